// Builders for the ClusterNetworkPolicy parser's tests: a manifest document, the policy it should become, and a
// valid policy written back as a manifest.
import type {
  AnyPeer,
  ClusterEgressPeer,
  ClusterNetworkPolicy,
  ClusterPolicyAction,
  ClusterPolicyProtocol,
  ClusterPolicyRule,
  ClusterPolicySubject,
  DomainNamesPeer,
  NamespacesSelection,
  NetworksPeer,
  NodesPeer,
  PodsSelection,
} from './cluster-network-policy.js';
import { CLUSTER_NETWORK_POLICY_API_VERSION } from './cluster-network-policy-parse.js';
import type { Protocol } from './k8s.js';
import type { LabelSelector } from './network-policy.js';

/** A ClusterNetworkPolicy document around `spec`, named p unless `metadata` says otherwise. */
export function cnpDoc(spec: unknown, metadata: unknown = { name: 'p' }): Record<string, unknown> {
  return { apiVersion: CLUSTER_NETWORK_POLICY_API_VERSION, kind: 'ClusterNetworkPolicy', metadata, spec };
}

/** A minimal valid spec (Admin, priority 10, namespaces team=a), then `rest` over it. */
export function cnpSpec(rest: Record<string, unknown> = {}): Record<string, unknown> {
  return { tier: 'Admin', priority: 10, subject: { namespaces: { matchLabels: { team: 'a' } } }, ...rest };
}

export const sel = (matchLabels: Record<string, string> = {}): LabelSelector => ({
  matchLabels,
  matchExpressions: [],
});
export const namespaces = (l: Record<string, string> = {}): NamespacesSelection => ({
  kind: 'namespaces',
  namespaceSelector: sel(l),
});
export const pods = (ns: Record<string, string>, pod: Record<string, string>): PodsSelection => ({
  kind: 'pods',
  namespaceSelector: sel(ns),
  podSelector: sel(pod),
});
export const nodes = (l: Record<string, string> = {}): NodesPeer => ({ kind: 'nodes', nodeSelector: sel(l) });
export const networks = (...cidrs: string[]): NetworksPeer => ({ kind: 'networks', networks: cidrs });
export const domains = (...names: string[]): DomainNamesPeer => ({ kind: 'domainNames', domainNames: names });
export const ANY: AnyPeer = { kind: 'any' };

export const port = (protocol: Protocol, n: number): ClusterPolicyProtocol => ({
  kind: 'port',
  protocol,
  port: n,
});
export const portRange = (protocol: Protocol, start: number, end: number): ClusterPolicyProtocol => ({
  kind: 'portRange',
  protocol,
  start,
  end,
});
export const namedPort = (name: string): ClusterPolicyProtocol => ({ kind: 'namedPort', name });

export function rule<P>(
  action: ClusterPolicyAction,
  peers: P[],
  protocols: ClusterPolicyProtocol[] = [],
  name?: string,
): ClusterPolicyRule<P> {
  return { ...(name !== undefined && { name }), action, peers, protocols };
}

/** The Deny that stands in for a rule that did not parse, in a policy with problems. */
export const denyAny = (name?: string): ClusterPolicyRule<AnyPeer> => rule('Deny', [ANY], [], name);

/** What cnpSpec() parses to (named p), then each tweak applied in turn. */
export function makeCnp(name: string, ...tweaks: Partial<ClusterNetworkPolicy>[]): ClusterNetworkPolicy {
  const base: ClusterNetworkPolicy = {
    kind: 'ClusterNetworkPolicy',
    name,
    tier: 'Admin',
    priority: 10,
    subject: namespaces({ team: 'a' }),
    ingress: [],
    egress: [],
    problems: [],
    notProgrammed: [],
  };
  return Object.assign(base, ...tweaks);
}

function selectionDoc(s: ClusterPolicySubject): Record<string, unknown> {
  return s.kind === 'namespaces'
    ? { namespaces: s.namespaceSelector }
    : { pods: { namespaceSelector: s.namespaceSelector, podSelector: s.podSelector } };
}

function peerDoc(p: ClusterEgressPeer): Record<string, unknown> {
  switch (p.kind) {
    case 'namespaces':
    case 'pods':
      return selectionDoc(p);
    case 'nodes':
      return { nodes: p.nodeSelector };
    case 'networks':
      return { networks: p.networks };
    case 'domainNames':
      return { domainNames: p.domainNames };
    case 'any':
      throw new Error('an AnyPeer has no manifest form');
  }
}

function protocolDoc(p: ClusterPolicyProtocol): Record<string, unknown> {
  if (p.kind === 'namedPort') return { destinationNamedPort: p.name };
  const destinationPort = p.kind === 'port' ? { number: p.port } : { range: { start: p.start, end: p.end } };
  return { [p.protocol.toLowerCase()]: { destinationPort } };
}

/** A policy without problems written back as a manifest: parsing it again must give the same policy. */
export function toDoc(cnp: ClusterNetworkPolicy): Record<string, unknown> {
  const ruleDoc = (field: string) => (r: ClusterPolicyRule<ClusterEgressPeer>) => ({
    ...(r.name !== undefined && { name: r.name }),
    action: r.action,
    [field]: r.peers.map(peerDoc),
    ...(r.protocols.length > 0 && { protocols: r.protocols.map(protocolDoc) }),
  });
  return cnpDoc(
    {
      tier: cnp.tier,
      priority: cnp.priority,
      subject: selectionDoc(cnp.subject),
      ingress: cnp.ingress.map(ruleDoc('from')),
      egress: cnp.egress.map(ruleDoc('to')),
    },
    { name: cnp.name },
  );
}
