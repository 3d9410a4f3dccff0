// The reference evaluator's reading of the default tier: Kubernetes NetworkPolicy together with Calico's
// GlobalNetworkPolicy, straight from the models (network-policy.ts, global-network-policy.ts), independent of the
// compiler's ordered form. Pure and total.
//
// Semantics (https://docs.tigera.io/calico/latest/reference/resources/globalnetworkpolicy and .../networkpolicy
// "Rule", "EntityRule"): the policies that select the pod for the direction run by order (NetworkPolicy counts as
// 1000; no order: last), equal orders by key. A NetworkPolicy allows when any of its rules matches. In a
// GlobalNetworkPolicy the first matching rule decides: Allow allows, Deny denies, Pass leaves the tier (on to
// Baseline); Log matches and goes on. If some policy selected the pod and none decided, the pod is isolated.
// A rule matches when everything it names holds: protocol, notProtocol, ipVersion, ICMP (only ICMP flows), and
// for source and destination: the address in some nets and in no notNets; an endpoint with that address that
// selector (within namespaceSelector) matches, and none that notSelector matches; the port in ports and not in
// notPorts. An address belongs to every pod that has it and every host endpoint that expects it. Policies for
// host endpoints only (preDNAT, doNotTrack) do not apply to pods.

import { calicoNamespaceLabels, calicoPodLabels } from '../model/calico-selector.js';
import { cidrContains, parseCidr, tryParseIp } from '../model/cidr.js';
import type { ClusterState, Flow, PodInfo } from '../model/cluster.js';
import {
  type EntityRule,
  type GlobalNetworkPolicy,
  type GlobalPolicyPort,
  type GlobalPolicyRule,
  globalPolicyKey,
  globalProtocolNumber,
  NETWORK_POLICY_ORDER,
  type ParsedSelector,
} from '../model/global-network-policy.js';
import { PROTOCOL_NUMBERS } from '../model/k8s.js';
import { type NetworkPolicy, policyKey } from '../model/network-policy.js';
import { referenceCalicoMatches, referenceSelectorMatches } from './reference-labels.js';

export type DefaultTierOutcome =
  | { readonly kind: 'none' }
  | { readonly kind: 'decided'; readonly allowed: boolean; readonly reason: string }
  | { readonly kind: 'passed'; readonly reason: string };

export interface DefaultTierContext {
  readonly self: PodInfo;
  readonly direction: 'Ingress' | 'Egress';
  readonly flow: Flow;
  /** Whether a NetworkPolicy rule matches (reference.ts owns NetworkPolicy's rule semantics). */
  readonly npRuleMatches: (policy: NetworkPolicy, index: number) => boolean;
}

type Labels = Readonly<Record<string, string>>;

function nsLabels(state: ClusterState, ns: string): Labels {
  return calicoNamespaceLabels(ns, state.namespaces.find((n) => n.name === ns)?.labels ?? {});
}

function podSelected(
  state: ClusterState,
  pod: PodInfo,
  sel: ParsedSelector | undefined,
  ns: ParsedSelector | undefined,
): boolean {
  if (ns && !referenceCalicoMatches(ns.selector, nsLabels(state, pod.namespace), true)) return false;
  return !sel || referenceCalicoMatches(sel.selector, calicoPodLabels(pod.namespace, pod.labels), true);
}

function sameAddress(a: string, b: string): boolean {
  const x = tryParseIp(a);
  const y = tryParseIp(b);
  return x !== undefined && y !== undefined && x.family === y.family && x.value === y.value;
}

/** Whether an endpoint with address `ip` (a pod, or a host endpoint) is named by the selectors. */
function addressSelected(
  state: ClusterState,
  ip: string,
  sel: ParsedSelector | undefined,
  ns: ParsedSelector | undefined,
): boolean {
  const pods = state.pods.filter((p) => p.ips.some((x) => sameAddress(x, ip)));
  if (pods.some((p) => podSelected(state, p, sel, ns))) return true;
  if (ns && !referenceCalicoMatches(ns.selector, {}, false)) return false;
  return (state.hostEndpoints ?? []).some(
    (h) =>
      h.expectedIPs.some((x) => sameAddress(x, ip)) &&
      (!sel || referenceCalicoMatches(sel.selector, h.labels, false)),
  );
}

function inNets(nets: readonly string[], ip: string): boolean {
  const addr = tryParseIp(ip);
  return addr !== undefined && nets.some((n) => cidrContains(parseCidr(n), addr));
}

function portIn(
  ports: readonly GlobalPolicyPort[],
  port: number,
  namedOn: PodInfo | undefined,
  protocol: string,
): boolean {
  return ports.some((p) =>
    p.kind === 'range'
      ? p.from <= port && port <= p.to
      : (namedOn?.ports.some(
          (cp) => cp.name === p.name && cp.protocol === protocol && cp.containerPort === port,
        ) ?? false),
  );
}

function entityMatches(
  state: ClusterState,
  e: EntityRule,
  at: { ip: string; port: number; pod?: PodInfo; protocol: string },
): boolean {
  if (e.nets.length > 0 && !inNets(e.nets, at.ip)) return false;
  if (inNets(e.notNets, at.ip)) return false;
  if ((e.selector || e.namespaceSelector) && !addressSelected(state, at.ip, e.selector, e.namespaceSelector))
    return false;
  if (e.notSelector && addressSelected(state, at.ip, e.notSelector, e.namespaceSelector)) return false;
  if (e.ports.length > 0 && !portIn(e.ports, at.port, at.pod, at.protocol)) return false;
  return !portIn(e.notPorts, at.port, at.pod, at.protocol);
}

function ruleMatches(state: ClusterState, rule: GlobalPolicyRule, ctx: DefaultTierContext): boolean {
  return globalRuleMatches(state, rule, ctx.flow, ctx.direction, ctx.self);
}

/**
 * Whether a rule matches the flow, for an endpoint deciding in direction d: `self` is that endpoint when it is a
 * pod (named destination ports of ingress rules resolve on it); a host endpoint has none.
 */
export function globalRuleMatches(
  state: ClusterState,
  rule: GlobalPolicyRule,
  flow: Flow,
  direction: 'Ingress' | 'Egress',
  self: PodInfo | undefined,
): boolean {
  const proto = PROTOCOL_NUMBERS[flow.protocol];
  if (rule.protocol && globalProtocolNumber(rule.protocol) !== proto) return false;
  if (rule.notProtocol && globalProtocolNumber(rule.notProtocol) === proto) return false;
  if (rule.icmp || rule.notICMP) return false; // flows here are TCP, UDP or SCTP
  if (rule.ipVersion && rule.ipVersion !== (flow.srcIp.includes(':') ? 6 : 4)) return false;
  const podAt = (ip: string) => state.pods.find((p) => p.ips.some((x) => sameAddress(x, ip)));
  const dstPod = direction === 'Ingress' ? self : podAt(flow.dstIp);
  return (
    entityMatches(state, rule.source, { ip: flow.srcIp, port: 0, protocol: flow.protocol }) &&
    entityMatches(state, rule.destination, {
      ip: flow.dstIp,
      port: flow.dstPort,
      pod: dstPod,
      protocol: flow.protocol,
    })
  );
}

/**
 * Palisade programs a named port only as a destination port of TCP, UDP or SCTP: a rule naming one elsewhere
 * makes its policy fail closed (its Allow, Pass and Log rules do nothing; such a Deny rule denies everything).
 */
export function unsupportedRule(r: GlobalPolicyRule): boolean {
  const named = (ports: readonly GlobalPolicyPort[]) => ports.some((p) => p.kind === 'named');
  if (named([...r.source.ports, ...r.source.notPorts, ...r.destination.notPorts])) return true;
  const dst = r.destination.ports;
  if (!r.protocol) return dst.some((p) => p.kind === 'range'); // named ones alone: that name, any protocol
  return named(dst) && ![6, 17, 132].includes(globalProtocolNumber(r.protocol));
}

type Entry =
  | { readonly kind: 'np'; readonly key: string; readonly order: number; readonly np: NetworkPolicy }
  | { readonly kind: 'gnp'; readonly key: string; readonly order: number; readonly gnp: GlobalNetworkPolicy };

function selecting(state: ClusterState, ctx: DefaultTierContext): Entry[] {
  const { self, direction } = ctx;
  const nps: Entry[] = state.policies
    .filter(
      (p) =>
        p.namespace === self.namespace &&
        p.policyTypes.includes(direction) &&
        referenceSelectorMatches(p.podSelector, self.labels),
    )
    .map((np) => ({ kind: 'np', key: policyKey(np), order: NETWORK_POLICY_ORDER, np }));
  const gnps: Entry[] = (state.globalPolicies ?? [])
    .filter(
      (g) =>
        !g.preDNAT &&
        !g.doNotTrack &&
        g.types.includes(direction) &&
        podSelected(state, self, g.selector, g.namespaceSelector),
    )
    .map((gnp) => ({
      kind: 'gnp',
      key: globalPolicyKey(gnp),
      order: gnp.order ?? Number.POSITIVE_INFINITY,
      gnp,
    }));
  return [...nps, ...gnps].sort((a, b) =>
    a.order !== b.order ? (a.order < b.order ? -1 : 1) : a.key < b.key ? -1 : a.key > b.key ? 1 : 0,
  );
}

/** The default tier's decision for the pod: none selects it, a rule decided, or a Pass left the tier. */
export function decideDefaultTier(state: ClusterState, ctx: DefaultTierContext): DefaultTierOutcome {
  const entries = selecting(state, ctx);
  if (entries.length === 0) return { kind: 'none' };
  const field = ctx.direction === 'Ingress' ? 'ingress' : 'egress';
  for (const e of entries) {
    if (e.kind === 'np') {
      const index = e.np[field].findIndex((_, i) => ctx.npRuleMatches(e.np, i));
      if (index >= 0)
        return { kind: 'decided', allowed: true, reason: `allowed by ${e.key} ${field}[${index}]` };
      continue;
    }
    const broken = [...e.gnp.ingress, ...e.gnp.egress].some(unsupportedRule);
    for (const [i, rule] of e.gnp[field].entries()) {
      const action = broken && rule.action !== 'Deny' ? undefined : rule.action;
      if (action === undefined || action === 'Log') continue;
      if (!(unsupportedRule(rule) || ruleMatches(state, rule, ctx))) continue;
      const where = `${e.key} ${field}[${i}]`;
      if (action === 'Allow') return { kind: 'decided', allowed: true, reason: `allowed by ${where}` };
      if (action === 'Deny') return { kind: 'decided', allowed: false, reason: `denied by ${where}` };
      return { kind: 'passed', reason: `passed by ${where}` };
    }
  }
  return {
    kind: 'decided',
    allowed: false,
    reason: `isolated by ${entries.map((e) => e.key).join(', ')}; no rule allows`,
  };
}
