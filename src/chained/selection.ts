// Decides whether the chained "redirect" CNI mode redirects a pod's inbound TCP to its proxy sidecar, and which
// ports. Pure: the caller fetches the pod and namespace facts; every decision carries a reason for the log.

import type { PodInfo } from '../model/cluster.js';
import type { ContainerPort } from '../model/k8s.js';
import type { RedirectProfile } from './profile.js';

export interface PodFacts {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
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

const ENABLED_VALUES = ['enabled', 'true'];

function skip(reason: string): Decision {
  return { kind: 'skip', reason };
}

function get(record: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Cheap pre-check before any pod facts are fetched: the excluded-namespace rule alone. */
export function excludedNamespace(cfg: SelectionConfig, namespace: string): Decision | undefined {
  if (!cfg.excludeNamespaces.includes(namespace)) return undefined;
  return skip(`namespace "${namespace}" is excluded by the plugin config (excludeNamespaces)`);
}

function namespaceNotEnabled(p: RedirectProfile, ns: NamespaceFacts | undefined, name: string) {
  if (ns === undefined) return skip(`namespace "${name}" is unknown, so it has no label ${p.namespaceLabel}`);
  const value = get(ns.labels, p.namespaceLabel);
  if (value === undefined) return skip(`namespace "${name}" has no label ${p.namespaceLabel}`);
  if (ENABLED_VALUES.includes(value.toLowerCase())) return undefined;
  return skip(`namespace "${name}" label ${p.namespaceLabel} is "${value}", not "enabled" or "true"`);
}

/** The pod-shape and opt-in rules (2-6), in order; undefined when none of them skips the pod. */
function optedOut(p: RedirectProfile, ns: NamespaceFacts | undefined, pod: PodFacts): Decision | undefined {
  if (pod.initContainers.some((c) => c.name === p.initContainer)) {
    return skip(`pod has init container "${p.initContainer}", which sets up its own networking`);
  }
  if (!pod.containers.some((c) => c.name === p.proxyContainer)) {
    return skip(`pod has no container "${p.proxyContainer}" (the proxy sidecar)`);
  }
  const notEnabled = namespaceNotEnabled(p, ns, pod.namespace);
  if (notEnabled !== undefined) return notEnabled;
  const injection = get(pod.annotations, p.injectionAnnotation);
  if (injection !== undefined && injection.toLowerCase() === 'false') {
    return skip(`annotation ${p.injectionAnnotation} is "${injection}"`);
  }
  if (get(pod.annotations, p.statusAnnotation) === undefined) {
    return skip(`annotation ${p.statusAnnotation} is absent (the pod was not injected)`);
  }
  return undefined;
}

/** "80, 443,80" → [80, 443]; or the first item that is not a port 1-65535. */
function parsePortList(text: string): { ports: number[] } | { bad: string } {
  const ports = new Set<number>();
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const n = /^[0-9]{1,5}$/.test(item) ? Number(item) : Number.NaN;
    if (!(n >= 1 && n <= 65535)) return { bad: item };
    ports.add(n);
  }
  return { ports: [...ports].sort((a, b) => a - b) };
}

function declaredTcpPorts(p: RedirectProfile, pod: PodFacts): number[] {
  const ports = pod.containers
    .filter((c) => c.name !== p.proxyContainer)
    .flatMap((c) => c.ports.filter((cp) => cp.protocol === 'TCP').map((cp) => cp.containerPort));
  return [...new Set(ports)].sort((a, b) => a - b);
}

function portsDecision(p: RedirectProfile, pod: PodFacts): Decision {
  const annotation = get(pod.annotations, p.portsAnnotation);
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
 * applies decides: excluded namespace, own init-networking container, no proxy container, namespace not enabled,
 * injection annotation "false", status annotation absent, then the ports (annotation, else declared TCP ports).
 * A malformed ports annotation is 'invalid': the plugin fails the ADD rather than silently not redirecting.
 */
export function decideRedirect(
  cfg: SelectionConfig,
  ns: NamespaceFacts | undefined,
  pod: PodFacts,
): Decision {
  return (
    excludedNamespace(cfg, pod.namespace) ?? optedOut(cfg.profile, ns, pod) ?? portsDecision(cfg.profile, pod)
  );
}
