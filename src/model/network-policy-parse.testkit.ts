// Builders for the NetworkPolicy parser's tests: a manifest document, and the NetworkPolicy it should become.
import type { Protocol } from './k8s.js';
import {
  EMPTY_SELECTOR,
  type LabelSelector,
  type NetworkPolicy,
  type PolicyPeer,
  type PolicyPort,
  type PolicyRule,
} from './network-policy.js';
import { NETWORK_POLICY_API_VERSION } from './network-policy-parse.js';

/** A NetworkPolicy document around `spec`, named shop/p unless `metadata` says otherwise. */
export function npDoc(
  spec: unknown,
  metadata: unknown = { name: 'p', namespace: 'shop' },
): Record<string, unknown> {
  return { apiVersion: NETWORK_POLICY_API_VERSION, kind: 'NetworkPolicy', metadata, spec };
}

/** A parsed policy: no selection, Ingress only, no rules, no problems, then each tweak applied in turn. */
export function makePolicy(
  name: string,
  namespace: string,
  ...tweaks: Partial<NetworkPolicy>[]
): NetworkPolicy {
  const base: NetworkPolicy = {
    kind: 'NetworkPolicy',
    namespace,
    name,
    podSelector: EMPTY_SELECTOR,
    policyTypes: ['Ingress'],
    ingress: [],
    egress: [],
    problems: [],
  };
  return Object.assign(base, ...tweaks);
}

export const labels = (matchLabels: Record<string, string>): LabelSelector => ({
  matchLabels,
  matchExpressions: [],
});
export const podPeer = (l: Record<string, string>): PolicyPeer => ({ podSelector: labels(l) });
export const nsPeer = (l: Record<string, string>): PolicyPeer => ({ namespaceSelector: labels(l) });
export const ipPeer = (cidr: string, ...except: string[]): PolicyPeer => ({ ipBlock: { cidr, except } });
export const port = (protocol: Protocol, p?: number | string, endPort?: number): PolicyPort => ({
  protocol,
  ...(p !== undefined && { port: p }),
  ...(endPort !== undefined && { endPort }),
});
export const rule = (peers: PolicyPeer[], ports: PolicyPort[] = []): PolicyRule => ({ peers, ports });
