// Builders and the cluster fixture for the reference evaluator's tests: typed objects made directly, no YAML.

import type { ClusterState, Flow, NamespaceInfo, NodeInfo, PodInfo } from '../model/cluster.js';
import type { ContainerPort, Protocol } from '../model/k8s.js';
import {
  EMPTY_SELECTOR,
  type LabelSelector,
  type LabelSelectorRequirement,
  type NetworkPolicy,
  type PolicyPeer,
  type PolicyPort,
  type PolicyRule,
} from '../model/network-policy.js';

type Labels = Record<string, string>;

export function ns(name: string, labels: Labels = {}): NamespaceInfo {
  return { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } };
}

export function node(name: string, ...ips: string[]): NodeInfo {
  return { name, ips };
}

export function pod(
  namespace: string,
  name: string,
  labels: Labels,
  opts: { node: string; ip?: string; ips?: string[]; ports?: ContainerPort[] },
): PodInfo {
  const ips = opts.ips ?? (opts.ip === undefined ? [] : [opts.ip]);
  return { namespace, name, node: opts.node, ips, labels, ports: opts.ports ?? [] };
}

export function sel(
  matchLabels: Labels = {},
  ...matchExpressions: LabelSelectorRequirement[]
): LabelSelector {
  return { matchLabels, matchExpressions };
}

export function expr(
  key: string,
  operator: LabelSelectorRequirement['operator'],
  ...values: string[]
): LabelSelectorRequirement {
  return { key, operator, values };
}

/** Peers: pods of the policy's namespace, pods of matching namespaces, both in ONE peer, an ipBlock. */
export const pods = (s: LabelSelector): PolicyPeer => ({ podSelector: s });
export const namespaces = (s: LabelSelector): PolicyPeer => ({ namespaceSelector: s });
export const podsIn = (nsSel: LabelSelector, podSel: LabelSelector): PolicyPeer => ({
  namespaceSelector: nsSel,
  podSelector: podSel,
});
export const ipBlock = (cidr: string, ...except: string[]): PolicyPeer => ({ ipBlock: { cidr, except } });

/** A port entry; the protocol defaults to TCP as the parser's model does. */
export function port(p?: number | string, opts: { protocol?: Protocol; endPort?: number } = {}): PolicyPort {
  const out: { protocol: Protocol; port?: number | string; endPort?: number } = {
    protocol: opts.protocol ?? 'TCP',
  };
  if (p !== undefined) out.port = p;
  if (opts.endPort !== undefined) out.endPort = opts.endPort;
  return out;
}

export function rule(peers: PolicyPeer[] = [], ports: PolicyPort[] = []): PolicyRule {
  return { peers, ports };
}

/** A NetworkPolicy selecting every pod, for Ingress, with no rules (default deny ingress) unless tweaked. */
export function policy(
  namespace: string,
  name: string,
  tweaks: Partial<Omit<NetworkPolicy, 'kind' | 'namespace' | 'name'>> = {},
): NetworkPolicy {
  return {
    kind: 'NetworkPolicy',
    namespace,
    name,
    podSelector: EMPTY_SELECTOR,
    policyTypes: ['Ingress'],
    ingress: [],
    egress: [],
    problems: [],
    ...tweaks,
  };
}

const http = (containerPort: number): ContainerPort => ({ name: 'http', containerPort, protocol: 'TCP' });

/**
 * Namespaces shop (team=a), ops (team=a), billing (team=b); pods of namespace "ghost" whose Namespace is not
 * in the state. node-1 (198.18.0.1) runs pods in 10.244.1.0/24, node-2 (198.18.0.2) pods in 10.244.2.0/24.
 */
export const BASE: Omit<ClusterState, 'policies'> = {
  namespaces: [ns('shop', { team: 'a' }), ns('ops', { team: 'a' }), ns('billing', { team: 'b' })],
  nodes: [node('node-1', '198.18.0.1', 'fd00:198:18::1'), node('node-2', '198.18.0.2')],
  pods: [
    pod(
      'shop',
      'web',
      { app: 'web', tier: 'front' },
      { node: 'node-1', ip: '10.244.1.1', ports: [http(80)] },
    ),
    pod(
      'shop',
      'api',
      { app: 'api', tier: 'back' },
      {
        node: 'node-2',
        ip: '10.244.2.1',
        ports: [http(8080), { name: 'dns', containerPort: 53, protocol: 'UDP' }],
      },
    ),
    pod(
      'shop',
      'db',
      { app: 'db' },
      { node: 'node-2', ip: '10.244.2.2', ports: [{ containerPort: 5432, protocol: 'TCP' }] },
    ),
    pod('shop', 'cache', { app: 'cache' }, { node: 'node-1', ip: '10.244.1.5' }),
    pod('shop', 'pending', { app: 'web', tier: 'front' }, { node: 'node-1' }),
    pod(
      'shop',
      'sig',
      { app: 'sig' },
      {
        node: 'node-2',
        ips: ['10.244.2.7', 'fd00:10:244:2::7'],
        ports: [{ name: 'diameter', containerPort: 3868, protocol: 'SCTP' }],
      },
    ),
    pod('billing', 'client', { role: 'client' }, { node: 'node-1', ip: '10.244.1.2' }),
    pod('billing', 'web', { app: 'web' }, { node: 'node-2', ip: '10.244.2.3' }),
    pod('ops', 'client', { role: 'client' }, { node: 'node-1', ip: '10.244.1.3' }),
    pod('ghost', 'stray', { role: 'client' }, { node: 'node-1', ip: '10.244.1.4' }),
    // A hostNetwork pod: it shares node-1's address.
    pod('kube-system', 'host-agent', { app: 'agent' }, { node: 'node-1', ip: '198.18.0.1' }),
  ],
};

/** Resolves "ns/name" to the pod's first IP (v6 for "ns/name@6"), a node name to its first IP, else as is. */
export function addr(end: string): string {
  const [ref, family] = end.split('@');
  const p = BASE.pods.find((x) => `${x.namespace}/${x.name}` === ref);
  if (p) return (family === '6' ? p.ips.find((ip) => ip.includes(':')) : p.ips[0]) ?? end;
  return BASE.nodes.find((n) => n.name === ref)?.ips[0] ?? end;
}

export function flow(src: string, dst: string, dstPort = 80, protocol: Protocol = 'TCP'): Flow {
  return { srcIp: addr(src), dstIp: addr(dst), protocol, dstPort };
}
