// The reference evaluator's reading of host endpoints: a node's own traffic and the traffic it forwards, decided
// by the GlobalNetworkPolicies that select its HostEndpoints, straight from the models. Pure and total.
//
// Semantics (https://docs.tigera.io/calico/latest/reference/host-endpoints/ overview, failsafe, pre-dnat,
// forwarded, summary), per node that has a host endpoint covering the flow's interface (here: "*"; a named one
// covers an interface these flows never use):
// - The node's own traffic out (output): untracked egress policy (Allow: done; Deny: denied), then the failsafe
//   outbound connections, then the normal egress policies: by order, first matching rule decides, Log goes on;
//   Pass or no policy: the endpoint's default (allow with projectcalico-default-allow, else deny); selected and
//   undecided: denied.
// - Traffic to the node (input): untracked ingress, then preDNAT ingress (Deny denies; Allow, Pass and no match go
//   on), then the normal ingress policies as above; the failsafe inbound connections skip all three.
// - Traffic forwarded out of a local pod to elsewhere: the applyOnForward egress policies (none selecting:
//   allowed; Pass: allowed; selected and undecided: denied). Traffic arriving for a local pod from elsewhere:
//   untracked and preDNAT ingress as above (no failsafes: they are the node's), then the applyOnForward ingress
//   policies likewise. The pods' own policies are reference.ts's.
// - A node and its own pods, and a pod and a pod of the same node, never cross a host endpoint.
import { cidrContains, parseCidr, tryParseIp } from '../model/cidr.js';
import type { ClusterState, Flow, NodeInfo, PodInfo } from '../model/cluster.js';
import type { FailsafeRule, Failsafes } from '../model/failsafe.js';
import { type GlobalNetworkPolicy, globalPolicyKey } from '../model/global-network-policy.js';
import { DEFAULT_ALLOW_PROFILE, type HostEndpoint } from '../model/host-endpoint.js';
import { globalRuleMatches, unsupportedRule } from './reference-global.js';
import { referenceCalicoMatches } from './reference-labels.js';

export type HostEnd =
  | { readonly kind: 'pod'; readonly pod: PodInfo }
  | { readonly kind: 'node'; readonly node: NodeInfo }
  | { readonly kind: 'outside' };

export interface HostDecision {
  readonly allowed: boolean;
  readonly reason: string;
}

type Direction = 'Ingress' | 'Egress';
type Kind = 'untracked' | 'preDNAT' | 'normal' | 'forward';

/** The host endpoint of a node that covers the interface these flows use ("*"; the first by group and name). */
function endpointOf(state: ClusterState, node: string): HostEndpoint | undefined {
  return (state.hostEndpoints ?? [])
    .filter((h) => h.node === node && h.interfaceName === '*')
    .sort((a, b) => (`${a.group}/${a.name}` < `${b.group}/${b.name}` ? -1 : 1))[0];
}

function selects(g: GlobalNetworkPolicy, hep: HostEndpoint, d: Direction): boolean {
  if (!g.types.includes(d)) return false;
  if (g.namespaceSelector && !referenceCalicoMatches(g.namespaceSelector.selector, {}, false)) return false;
  return referenceCalicoMatches(g.selector.selector, hep.labels, false);
}

function ofKind(g: GlobalNetworkPolicy, kind: Kind): boolean {
  if (kind === 'untracked') return g.doNotTrack;
  if (kind === 'preDNAT') return g.preDNAT;
  if (g.doNotTrack || g.preDNAT) return false;
  return kind === 'normal' || g.applyOnForward;
}

type Outcome =
  | { readonly kind: 'allow' | 'deny' | 'pass'; readonly reason: string }
  | { readonly kind: 'none'; readonly selected: boolean };

/** The policies of a kind in order; the first rule that matches decides (Log goes on). */
function run(state: ClusterState, hep: HostEndpoint, kind: Kind, d: Direction, flow: Flow): Outcome {
  const field = d === 'Ingress' ? 'ingress' : 'egress';
  const policies = (state.globalPolicies ?? [])
    .filter((g) => ofKind(g, kind) && selects(g, hep, d))
    .map((g) => ({ g, key: globalPolicyKey(g), order: g.order ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => (a.order !== b.order ? (a.order < b.order ? -1 : 1) : a.key < b.key ? -1 : 1));
  for (const { g, key } of policies) {
    const broken = [...g.ingress, ...g.egress].some(unsupportedRule);
    for (const [i, rule] of g[field].entries()) {
      if (rule.action === 'Log' || (broken && rule.action !== 'Deny')) continue;
      if (!(unsupportedRule(rule) || globalRuleMatches(state, rule, flow, d, undefined))) continue;
      const where = `${key} ${field}[${i}] (${kind})`;
      return {
        kind: rule.action === 'Allow' ? 'allow' : rule.action === 'Deny' ? 'deny' : 'pass',
        reason: where,
      };
    }
  }
  return { kind: 'none', selected: policies.length > 0 };
}

function failsafe(rules: readonly FailsafeRule[], flow: Flow, remote: string): boolean {
  const ip = tryParseIp(remote);
  return rules.some(
    (r) =>
      r.protocol === flow.protocol &&
      r.port <= flow.dstPort &&
      flow.dstPort <= (r.endPort ?? r.port) &&
      (!r.cidr || (ip !== undefined && cidrContains(parseCidr(r.cidr), ip))),
  );
}

const ALLOWED = (reason: string): HostDecision => ({ allowed: true, reason });
const DENIED = (reason: string): HostDecision => ({ allowed: false, reason });

/** The node's own traffic through its host endpoint, or traffic forwarded through it. */
function decide(
  state: ClusterState,
  hep: HostEndpoint,
  d: Direction,
  local: 'node' | 'pod',
  flow: Flow,
  failsafes: Failsafes,
): HostDecision {
  const remote = d === 'Ingress' ? flow.srcIp : flow.dstIp;
  const safe =
    local === 'node' && failsafe(d === 'Ingress' ? failsafes.inbound : failsafes.outbound, flow, remote);
  if (!safe) {
    const u = run(state, hep, 'untracked', d, flow);
    if (u.kind === 'allow') return ALLOWED(`untracked: ${u.reason}`);
    if (u.kind === 'deny') return DENIED(u.reason);
    if (d === 'Ingress') {
      const p = run(state, hep, 'preDNAT', d, flow);
      if (p.kind === 'deny') return DENIED(p.reason);
    }
  } else return ALLOWED('failsafe');
  const kind = local === 'node' ? 'normal' : 'forward';
  const n = run(state, hep, kind, d, flow);
  if (n.kind === 'allow') return ALLOWED(n.reason);
  if (n.kind === 'deny') return DENIED(n.reason);
  if (n.kind === 'none' && n.selected) return DENIED(`${hep.name}: selected, no ${kind} rule allows`);
  if (local === 'pod') return ALLOWED(n.kind === 'pass' ? n.reason : 'no forward policy');
  const open = hep.profiles.includes(DEFAULT_ALLOW_PROFILE);
  const why = `${n.kind === 'pass' ? `${n.reason}; ` : ''}${hep.name} default`;
  return open ? ALLOWED(why) : DENIED(why);
}

const nodeOf = (e: HostEnd): string | undefined =>
  e.kind === 'pod' ? e.pod.node : e.kind === 'node' ? e.node.name : undefined;

/** Both ends' host endpoints, where the flow crosses them. */
export function decideHostFlow(
  state: ClusterState,
  src: HostEnd,
  dst: HostEnd,
  flow: Flow,
  failsafes: Failsafes,
): HostDecision {
  const from = nodeOf(src);
  const to = nodeOf(dst);
  if (from !== undefined && from === to) return ALLOWED('within one node');
  const out = from === undefined ? undefined : endpointOf(state, from);
  if (out) {
    const v = decide(state, out, 'Egress', src.kind === 'node' ? 'node' : 'pod', flow, failsafes);
    if (!v.allowed) return v;
  }
  const into = to === undefined ? undefined : endpointOf(state, to);
  if (into) return decide(state, into, 'Ingress', dst.kind === 'node' ? 'node' : 'pod', flow, failsafes);
  return ALLOWED(out ? 'out allowed' : 'no host endpoint');
}
