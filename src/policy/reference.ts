// The reference evaluator: an independent, deliberately simple reading of networking.k8s.io/v1 NetworkPolicy,
// used to check the compiler and, in differential tests, the kernel's verdicts. It decides one flow at a time
// by walking the whole cluster state; nothing is indexed or cached. Pure and total: it never throws.
//
// Semantics (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
// - Each end of the flow is identified by its IP: a node (state.nodes), else a pod (state.pods, by any of its
//   ips), else an outside address. A node address wins over a pod with the same address: that pod is a
//   hostNetwork pod, whose traffic "is treated the same as all other traffic to/from the node IP" (the docs'
//   "most common implementation"). If two pods claim an address, the first in state.pods is the endpoint.
// - Egress is decided for a pod source, ingress for a pod destination; a non-pod end has no policy. The flow
//   is allowed iff both directions allow ("both the egress policy on the source pod and the ingress policy on
//   the destination pod need to allow the traffic").
// - Always allowed, before any policy: a node and a pod on that node ("traffic to and from the node where a
//   Pod is running is always allowed"), and a pod and itself ("a pod cannot block access to itself").
// - A pod is isolated for a direction iff some policy of its namespace selects it and lists that direction in
//   policyTypes; then some rule of some such policy must match. A policy with problems carries no rules, so
//   it isolates and allows nothing, without any special case here.
// - ClusterNetworkPolicy tiers around it (reference-cluster.ts): the Admin tier decides first (Accept, Deny, or
//   Pass on to NetworkPolicy); the Baseline tier only where no NetworkPolicy isolates the pod.
// Reasons name the deciding policy and rule as "ns/name ingress[i]"; among several that allow, the first in
// (namespace/name, rule index) order is named, so the reason does not depend on the order of state.policies.
import { type Cidr, cidrContains, type IpAddress, parseCidr, tryParseIp } from '../model/cidr.js';
import type { ClusterState, Flow, NamespaceInfo, NodeInfo, PodInfo } from '../model/cluster.js';
import { DEFAULT_FAILSAFES, type Failsafes } from '../model/failsafe.js';
import type {
  IpBlock,
  NetworkPolicy,
  PolicyPeer,
  PolicyPort,
  PolicyRule,
  PolicyType,
} from '../model/network-policy.js';
import { decideClusterTier } from './reference-cluster.js';
import { decideDefaultTier } from './reference-global.js';
import { decideHostFlow } from './reference-host.js';
import { referenceSelectorMatches } from './reference-labels.js';

export interface Decision {
  readonly allowed: boolean;
  /** Why, e.g. "not isolated", "allowed by shop/allow-web ingress[0]", "node to its own pod", "not a pod". */
  readonly reason: string;
}

export interface Verdict {
  /** egress.allowed && ingress.allowed && host.allowed. */
  readonly allowed: boolean;
  /** For the source pod. */
  readonly egress: Decision;
  /** For the destination pod. */
  readonly ingress: Decision;
  /** For the host endpoints the flow crosses (reference-host.ts). */
  readonly host: Decision;
}

type Endpoint =
  | { readonly kind: 'pod'; readonly ip: string; readonly pod: PodInfo }
  | { readonly kind: 'node'; readonly ip: string; readonly node: NodeInfo }
  | { readonly kind: 'outside'; readonly ip: string };

/** Two address texts name the same address (compared parsed, so "FD00::1" is "fd00:0::1"). */
function sameIp(a: string, parsedA: IpAddress | undefined, b: string): boolean {
  const parsedB = tryParseIp(b);
  if (parsedA === undefined || parsedB === undefined) return a === b;
  return parsedA.family === parsedB.family && parsedA.value === parsedB.value;
}

function endpointOf(state: ClusterState, ip: string): Endpoint {
  const parsed = tryParseIp(ip);
  const node = state.nodes.find((n) => n.ips.some((x) => sameIp(ip, parsed, x)));
  if (node) return { kind: 'node', ip, node };
  const pod = state.pods.find((p) => p.ips.some((x) => sameIp(ip, parsed, x)));
  if (pod) return { kind: 'pod', ip, pod };
  return { kind: 'outside', ip };
}

function namespaceLabels(state: ClusterState, name: string): Readonly<Record<string, string>> {
  const ns: NamespaceInfo | undefined = state.namespaces.find((n) => n.name === name);
  return ns?.labels ?? {}; // a namespace we do not know has no labels: only an empty selector matches it
}

/** Parses a CIDR, or undefined when it is not one (the parser should have said so; we fail closed). */
function cidrOrUndefined(text: string): Cidr | undefined {
  try {
    return parseCidr(text);
  } catch {
    return undefined; // not a CIDR: the caller treats the block as matching nothing
  }
}

function ipBlockMatches(block: IpBlock, ip: string): boolean {
  const addr = tryParseIp(ip);
  const cidr = cidrOrUndefined(block.cidr);
  if (addr === undefined || cidr === undefined) return false; // cidrContains also checks the family
  const excepts = block.except.map(cidrOrUndefined);
  if (excepts.some((e) => e === undefined)) return false;
  return cidrContains(cidr, addr) && !excepts.some((e) => e !== undefined && cidrContains(e, addr));
}

/** Whether `peer` (in a policy of namespace `policyNs`) names the other end of the flow. */
function peerMatches(state: ClusterState, peer: PolicyPeer, policyNs: string, other: Endpoint): boolean {
  const hasSelector = peer.podSelector !== undefined || peer.namespaceSelector !== undefined;
  if (peer.ipBlock !== undefined) return !hasSelector && ipBlockMatches(peer.ipBlock, other.ip);
  if (!hasSelector || other.kind !== 'pod') return false; // selectors only ever name pods
  const pod = other.pod;
  const nsOk =
    peer.namespaceSelector === undefined
      ? pod.namespace === policyNs
      : referenceSelectorMatches(peer.namespaceSelector, namespaceLabels(state, pod.namespace));
  const podOk = peer.podSelector === undefined || referenceSelectorMatches(peer.podSelector, pod.labels);
  return nsOk && podOk;
}

/** Whether `port` admits the flow; named ports resolve on `dst`, the destination pod (if it is one). */
function portMatches(port: PolicyPort, flow: Flow, dst: Endpoint): boolean {
  if (port.protocol !== flow.protocol) return false;
  if (port.port === undefined) return port.endPort === undefined; // endPort needs a numeric port
  if (typeof port.port === 'number') {
    const last = port.endPort ?? port.port;
    return port.port <= flow.dstPort && flow.dstPort <= last;
  }
  if (port.endPort !== undefined || dst.kind !== 'pod') return false;
  const name = port.port;
  return dst.pod.ports.some(
    (cp) => cp.name === name && cp.protocol === flow.protocol && cp.containerPort === flow.dstPort,
  );
}

function ruleMatches(state: ClusterState, policy: NetworkPolicy, rule: PolicyRule, ctx: Context): boolean {
  const peerOk =
    rule.peers.length === 0 || rule.peers.some((p) => peerMatches(state, p, policy.namespace, ctx.other));
  const portOk = rule.ports.length === 0 || rule.ports.some((p) => portMatches(p, ctx.flow, ctx.dst));
  return peerOk && portOk;
}

interface Context {
  readonly direction: PolicyType;
  /** The pod whose policy is decided: the source for egress, the destination for ingress. */
  readonly self: PodInfo;
  /** The other end: the destination for egress, the source for ingress. */
  readonly other: Endpoint;
  /** The flow's destination endpoint (named ports resolve on it). */
  readonly dst: Endpoint;
  readonly flow: Flow;
}

function _byKey(a: NetworkPolicy, b: NetworkPolicy): number {
  const ka = `${a.namespace}/${a.name}`;
  const kb = `${b.namespace}/${b.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function decideForPod(state: ClusterState, ctx: Context): Decision {
  const { self, other, direction } = ctx;
  if (other.kind === 'node' && other.node.name === self.node) {
    return { allowed: true, reason: direction === 'Ingress' ? 'node to its own pod' : 'pod to its own node' };
  }
  if (other.kind === 'pod' && other.pod.namespace === self.namespace && other.pod.name === self.name) {
    return { allowed: true, reason: 'pod to itself' };
  }
  const cluster = { self, other, dst: ctx.dst, flow: ctx.flow };
  const admin = decideClusterTier(state, 'Admin', direction, cluster);
  if (admin.decided) return { allowed: admin.allowed, reason: admin.reason };
  const tier = decideDefaultTier(state, {
    self,
    direction,
    flow: ctx.flow,
    npRuleMatches: (policy, i) =>
      ruleMatches(state, policy, policy[direction === 'Ingress' ? 'ingress' : 'egress'][i]!, ctx),
  });
  if (tier.kind === 'decided') return { allowed: tier.allowed, reason: tier.reason };
  const baseline = decideClusterTier(state, 'Baseline', direction, cluster);
  if (baseline.decided) return { allowed: baseline.allowed, reason: baseline.reason };
  const why = tier.kind === 'passed' ? tier.reason : admin.reason;
  return { allowed: true, reason: why ? `${why}; not isolated` : 'not isolated' };
}

const NOT_A_POD: Decision = { allowed: true, reason: 'not a pod' };

/** Decides the first packet of `flow` against the NetworkPolicies in `state`. Never throws. */
export function evaluateFlow(
  state: ClusterState,
  flow: Flow,
  opts: { readonly failsafes?: Failsafes } = {},
): Verdict {
  const src = endpointOf(state, flow.srcIp);
  const dst = endpointOf(state, flow.dstIp);
  const egress =
    src.kind === 'pod'
      ? decideForPod(state, { direction: 'Egress', self: src.pod, other: dst, dst, flow })
      : NOT_A_POD;
  const ingress =
    dst.kind === 'pod'
      ? decideForPod(state, { direction: 'Ingress', self: dst.pod, other: src, dst, flow })
      : NOT_A_POD;
  const host = decideHostFlow(state, src, dst, flow, opts.failsafes ?? DEFAULT_FAILSAFES);
  return { allowed: egress.allowed && ingress.allowed && host.allowed, egress, ingress, host };
}
