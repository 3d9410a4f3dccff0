// Decides whether the chained "redirect" CNI mode redirects a pod's inbound TCP to its proxy sidecar, and which
// ports. Pure: the caller fetches the pod and namespace facts; every decision carries a reason for the log.

import type { PodInfo } from '../model/cluster.js';
import type { ContainerPort } from '../model/k8s.js';
import {
  MAX_ANNOTATION_VALUE,
  ON_WORDS,
  parsePortList,
  SWITCH_WORDS,
  switchValue,
} from '../model/selection-values.js';
import type { RedirectProfile } from './profile.js';

export interface PodFacts {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Every annotation key; null: present, but a long value the pod model left out (PodWorkload). */
  readonly annotations: Readonly<Record<string, string | null>>;
  readonly containers: readonly { readonly name: string; readonly ports: readonly ContainerPort[] }[];
  readonly initContainers: readonly { readonly name: string }[];
}

/** The facts of a pod as the datastores model it (PodInfo and its workload). */
export function podFactsOf(pod: PodInfo): PodFacts {
  const w = pod.workload;
  return {
    namespace: pod.namespace,
    name: pod.name,
    labels: pod.labels,
    annotations: w?.annotations ?? {},
    containers: w?.containers ?? [],
    initContainers: w?.initContainers ?? [],
  };
}

export interface NamespaceFacts {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface SelectionConfig {
  readonly excludeNamespaces: readonly string[];
  readonly profile: RedirectProfile;
}

export type Decision =
  | { readonly kind: 'redirect'; readonly ports: readonly number[]; readonly reason: string }
  | { readonly kind: 'skip'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly reason: string };

function skip(reason: string): Decision {
  return { kind: 'skip', reason };
}

/** A label's value, or undefined when absent. */
function labelOf(record: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** An annotation's value; null when present with a value the model left out; undefined when absent. */
function annotationOf(pod: PodFacts, key: string): string | null | undefined {
  return Object.hasOwn(pod.annotations, key) ? pod.annotations[key] : undefined;
}

const LEFT_OUT = `a value longer than ${MAX_ANNOTATION_VALUE} characters`;
const SWITCH_PAIRS = SWITCH_WORDS.map(([on, off]) => `${on}/${off}`).join(', ');

/** Cheap pre-check before any pod facts are fetched: the excluded-namespace rule alone. */
export function excludedNamespace(cfg: SelectionConfig, namespace: string): Decision | undefined {
  if (!cfg.excludeNamespaces.includes(namespace)) return undefined;
  return skip(`namespace "${namespace}" is excluded by the plugin config (excludeNamespaces)`);
}

function namespaceNotEnabled(p: RedirectProfile, ns: NamespaceFacts | undefined, name: string) {
  if (ns === undefined) return skip(`namespace "${name}" is unknown, so it has no label ${p.namespaceLabel}`);
  const value = labelOf(ns.labels, p.namespaceLabel);
  if (value === undefined) return skip(`namespace "${name}" has no label ${p.namespaceLabel}`);
  if (switchValue(value) === 'on') return undefined;
  return skip(
    `namespace "${name}" label ${p.namespaceLabel} is "${value}", not an on value (${ON_WORDS.join(', ')})`,
  );
}

/**
 * The injection annotation (rule 5): an off word skips the pod. As in seed 000, where only a false value
 * prevents the redirect, an absent annotation, an on word and any other value do not: an unrecognised value is
 * ignored as if absent, and comes back as a note for the decision's reason.
 */
function injection(p: RedirectProfile, pod: PodFacts): { skip?: Decision; note?: string } {
  const value = annotationOf(pod, p.injectionAnnotation);
  if (value === undefined) return {};
  // A left-out value is longer than any word, so it is exactly "not an on/off value".
  const switched = value === null ? undefined : switchValue(value);
  if (switched === 'off') {
    return { skip: skip(`annotation ${p.injectionAnnotation} is "${value}", which turns redirection off`) };
  }
  if (switched === 'on') return {};
  const shown = value === null ? LEFT_OUT : `"${value}"`;
  return {
    note: `annotation ${p.injectionAnnotation}: ${shown} is not an on/off value (${SWITCH_PAIRS}), so it is ignored`,
  };
}

/** The pod-shape and opt-in rules (2-6), in order; skip is undefined when none of them skips the pod. */
function optedOut(
  p: RedirectProfile,
  ns: NamespaceFacts | undefined,
  pod: PodFacts,
): { skip?: Decision; note?: string } {
  if (pod.initContainers.some((c) => c.name === p.initContainer)) {
    return { skip: skip(`pod has init container "${p.initContainer}", which sets up its own networking`) };
  }
  if (!pod.containers.some((c) => c.name === p.proxyContainer)) {
    return { skip: skip(`pod has no container "${p.proxyContainer}" (the proxy sidecar)`) };
  }
  const notEnabled = namespaceNotEnabled(p, ns, pod.namespace);
  if (notEnabled !== undefined) return { skip: notEnabled };
  const injected = injection(p, pod);
  if (injected.skip) return injected;
  // Presence only: a left-out (null) value is present.
  if (annotationOf(pod, p.statusAnnotation) === undefined) {
    return {
      ...injected,
      skip: skip(`annotation ${p.statusAnnotation} is absent (the pod was not injected)`),
    };
  }
  return injected;
}

function declaredTcpPorts(p: RedirectProfile, pod: PodFacts): number[] {
  const ports = pod.containers
    .filter((c) => c.name !== p.proxyContainer)
    .flatMap((c) => c.ports.filter((cp) => cp.protocol === 'TCP').map((cp) => cp.containerPort));
  return [...new Set(ports)].sort((a, b) => a - b);
}

function portsDecision(p: RedirectProfile, pod: PodFacts): Decision {
  const annotation = annotationOf(pod, p.portsAnnotation);
  if (annotation === null) {
    // Left out by the pod model only when it is not a port list (a valid list is always kept whole).
    return {
      kind: 'invalid',
      reason: `annotation ${p.portsAnnotation}: ${LEFT_OUT} that is not a list of ports 1-65535`,
    };
  }
  if (annotation !== undefined) {
    const parsed = parsePortList(annotation);
    if ('bad' in parsed) {
      return {
        kind: 'invalid',
        reason: `annotation ${p.portsAnnotation}: "${annotation}" is not a list of ports 1-65535 ("${parsed.bad}")`,
      };
    }
    return {
      kind: 'redirect',
      ports: parsed.ports,
      reason: `ports ${parsed.ports.join(',')} from annotation ${p.portsAnnotation}`,
    };
  }
  const ports = declaredTcpPorts(p, pod);
  if (ports.length === 0) {
    return skip(
      `no ports to redirect: no annotation ${p.portsAnnotation} and no declared TCP container ports`,
    );
  }
  return {
    kind: 'redirect',
    ports,
    reason: `ports ${ports.join(',')} from the declared TCP container ports (no annotation ${p.portsAnnotation}; container "${p.proxyContainer}" left out)`,
  };
}

/**
 * Whether to redirect the pod's inbound TCP to its proxy sidecar. The rules apply in order and the first that
 * applies decides: excluded namespace, own init-networking container, no proxy container, namespace label not
 * an on word, injection annotation an off word, status annotation absent, then the ports (annotation, else
 * declared TCP ports). An injection value that is no on/off word is ignored, and the reason says so. A
 * malformed ports annotation is 'invalid': the plugin fails the ADD rather than silently not redirecting.
 */
export function decideRedirect(
  cfg: SelectionConfig,
  ns: NamespaceFacts | undefined,
  pod: PodFacts,
): Decision {
  const excluded = excludedNamespace(cfg, pod.namespace);
  if (excluded) return excluded;
  const opted = optedOut(cfg.profile, ns, pod);
  const decision = opted.skip ?? portsDecision(cfg.profile, pod);
  return opted.note ? { ...decision, reason: `${decision.reason}; ${opted.note}` } : decision;
}
