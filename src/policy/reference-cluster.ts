// The reference evaluator's reading of policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy, straight from the
// model (cluster-network-policy.ts), independent of the compiler's ordered form. Pure and total.
//
// Semantics (network-policy-api, "ClusterNetworkPolicy"): a policy applies to the pods its subject selects
// (ingress to them, egress from them). The tiers run Admin, then NetworkPolicy (reference.ts), then Baseline.
// Within Admin or Baseline, policies run in compareClusterPolicies order and, within one, rules in order: the
// first rule whose peers and protocols both match decides. Accept allows and Deny denies, final. Pass ends the
// tier: from Admin, NetworkPolicy decides; in Baseline, it allows. No rule of a tier matching goes on to the next.
// Peers: namespaces (pods of matching namespaces), pods (matching pods in matching namespaces), networks (any
// address inside a CIDR, pods' included), domainNames (not programmed by Palisade: match nothing), nodes (the
// addresses of the nodes whose labels match), and "any" (only in a policy with problems: everything). Empty protocols match every packet; a named port matches
// the destination pod's container port of that name, with its declared protocol.
import { cidrContains, parseCidr, tryParseIp } from '../model/cidr.js';
import type { ClusterState, Flow, NamespaceInfo, NodeInfo, PodInfo } from '../model/cluster.js';
import {
  type ClusterEgressPeer,
  type ClusterNetworkPolicy,
  type ClusterPolicyProtocol,
  type ClusterPolicyTier,
  compareClusterPolicies,
} from '../model/cluster-network-policy.js';
import { referenceSelectorMatches } from './reference-labels.js';

/** The other end of a flow, as reference.ts identifies it. */
export type ReferenceEndpoint =
  | { readonly kind: 'pod'; readonly ip: string; readonly pod: PodInfo }
  | { readonly kind: 'node'; readonly ip: string; readonly node: NodeInfo }
  | { readonly kind: 'outside'; readonly ip: string };

export type TierOutcome =
  | { readonly decided: true; readonly allowed: boolean; readonly reason: string }
  | { readonly decided: false; readonly reason?: string };

function nsLabels(state: ClusterState, name: string): Readonly<Record<string, string>> {
  const ns: NamespaceInfo | undefined = state.namespaces.find((n) => n.name === name);
  return ns?.labels ?? {};
}

function subjectSelects(state: ClusterState, p: ClusterNetworkPolicy, pod: PodInfo): boolean {
  if (!referenceSelectorMatches(p.subject.namespaceSelector, nsLabels(state, pod.namespace))) return false;
  return p.subject.kind === 'namespaces' || referenceSelectorMatches(p.subject.podSelector, pod.labels);
}

function inCidr(text: string, ip: string): boolean {
  const addr = tryParseIp(ip);
  try {
    return addr !== undefined && cidrContains(parseCidr(text), addr);
  } catch {
    return false;
  }
}

function peerMatches(state: ClusterState, peer: ClusterEgressPeer, other: ReferenceEndpoint): boolean {
  switch (peer.kind) {
    case 'any':
      return true;
    case 'networks':
      return peer.networks.some((c) => inCidr(c, other.ip));
    case 'namespaces':
      return (
        other.kind === 'pod' &&
        referenceSelectorMatches(peer.namespaceSelector, nsLabels(state, other.pod.namespace))
      );
    case 'pods':
      return (
        other.kind === 'pod' &&
        referenceSelectorMatches(peer.namespaceSelector, nsLabels(state, other.pod.namespace)) &&
        referenceSelectorMatches(peer.podSelector, other.pod.labels)
      );
    case 'nodes':
      return other.kind === 'node' && referenceSelectorMatches(peer.nodeSelector, other.node.labels ?? {});
    case 'domainNames':
      return false;
  }
}

function protocolMatches(p: ClusterPolicyProtocol, flow: Flow, dst: ReferenceEndpoint): boolean {
  switch (p.kind) {
    case 'port':
      return p.protocol === flow.protocol && p.port === flow.dstPort;
    case 'portRange':
      return p.protocol === flow.protocol && p.start <= flow.dstPort && flow.dstPort <= p.end;
    case 'namedPort':
      return (
        dst.kind === 'pod' &&
        dst.pod.ports.some(
          (cp) => cp.name === p.name && cp.protocol === flow.protocol && cp.containerPort === flow.dstPort,
        )
      );
  }
}

/**
 * One tier's decision for `self` in `direction`: decided (allowed or denied, with the policy and rule), or not
 * (no rule matched, or a Pass: then `reason` says which).
 */
export function decideClusterTier(
  state: ClusterState,
  tier: ClusterPolicyTier,
  direction: 'Ingress' | 'Egress',
  ctx: { self: PodInfo; other: ReferenceEndpoint; dst: ReferenceEndpoint; flow: Flow },
): TierOutcome {
  const policies = (state.clusterPolicies ?? [])
    .filter((p) => p.tier === tier && subjectSelects(state, p, ctx.self))
    .sort(compareClusterPolicies);
  const field = direction === 'Ingress' ? 'ingress' : 'egress';
  for (const p of policies) {
    const rules: readonly {
      action: string;
      peers: readonly ClusterEgressPeer[];
      protocols: readonly ClusterPolicyProtocol[];
    }[] = p[field];
    for (const [i, r] of rules.entries()) {
      const peerOk = r.peers.some((x) => peerMatches(state, x, ctx.other));
      const protoOk =
        r.protocols.length === 0 || r.protocols.some((x) => protocolMatches(x, ctx.flow, ctx.dst));
      if (!peerOk || !protoOk) continue;
      const where = `cnp:${p.name} ${field}[${i}]`;
      if (r.action === 'Accept') return { decided: true, allowed: true, reason: `accepted by ${where}` };
      if (r.action === 'Deny') return { decided: true, allowed: false, reason: `denied by ${where}` };
      if (tier === 'Baseline')
        return { decided: true, allowed: true, reason: `passed (allowed) by ${where}` };
      return { decided: false, reason: `passed by ${where}` };
    }
  }
  return { decided: false };
}
