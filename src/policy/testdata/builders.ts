// Builders for policy tests: typed objects straight away, no YAML. makePod('shop','web',{app:'web'},{...}).
import type { ClusterState, Flow, NamespaceInfo, PodInfo } from '../../model/cluster.js';
import type { ContainerPort, Protocol } from '../../model/k8s.js';
import {
  EMPTY_SELECTOR,
  type LabelSelector,
  type NetworkPolicy,
  type PolicyPeer,
  type PolicyPort,
  type PolicyRule,
} from '../../model/network-policy.js';

export function makeNamespace(name: string, labels: Record<string, string> = {}): NamespaceInfo {
  return { name, labels: { ...labels, 'kubernetes.io/metadata.name': name } };
}

export function makePod(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  opts: { node: string; ip: string; ports?: ContainerPort[]; iface?: string },
): PodInfo {
  return {
    namespace,
    name,
    node: opts.node,
    ips: [opts.ip],
    labels,
    ports: opts.ports ?? [],
    interface: opts.iface ?? `pal${name.slice(0, 11)}`,
  };
}

export function sel(
  matchLabels: Record<string, string> = {},
  matchExpressions: LabelSelector['matchExpressions'] = [],
): LabelSelector {
  return { matchLabels, matchExpressions };
}

export function rule(peers: PolicyPeer[] = [], ports: PolicyPort[] = []): PolicyRule {
  return { peers, ports };
}

export function tcp(port?: number | string, endPort?: number): PolicyPort {
  return {
    protocol: 'TCP',
    ...(port === undefined ? {} : { port }),
    ...(endPort === undefined ? {} : { endPort }),
  };
}

export function udp(port?: number | string): PolicyPort {
  return { protocol: 'UDP', ...(port === undefined ? {} : { port }) };
}

export function makePolicy(
  namespace: string,
  name: string,
  spec: {
    podSelector?: LabelSelector;
    ingress?: PolicyRule[];
    egress?: PolicyRule[];
    policyTypes?: NetworkPolicy['policyTypes'];
    problems?: string[];
  } = {},
): NetworkPolicy {
  const policyTypes = spec.policyTypes ?? ['Ingress', ...(spec.egress ? (['Egress'] as const) : [])];
  return {
    kind: 'NetworkPolicy',
    namespace,
    name,
    podSelector: spec.podSelector ?? EMPTY_SELECTOR,
    policyTypes,
    ingress: spec.ingress ?? [],
    egress: spec.egress ?? [],
    problems: spec.problems ?? [],
  };
}

/** Two nodes; shop/{web,cart} and billing/api on node-1, shop/db and billing/ledger on node-2. */
/** The demo cluster's addresses by pod or node name (one source for the cluster and the cases that name them). */
export const DEMO_IPS: Readonly<Record<string, string>> = {
  web: '10.244.1.1',
  cart: '10.244.1.2',
  api: '10.244.1.3',
  db: '10.244.2.1',
  ledger: '10.244.2.2',
  'node-1': '198.18.0.11',
  'node-2': '198.18.0.12',
};

/** A flow between demo pods or nodes by name, or any address given as such. */
export function demoFlow(src: string, dst: string, protocol: Protocol, port: number): Flow {
  return { srcIp: DEMO_IPS[src] ?? src, dstIp: DEMO_IPS[dst] ?? dst, protocol, dstPort: port };
}

export function demoCluster(policies: NetworkPolicy[] = []): ClusterState {
  const http = (n: number): ContainerPort[] => [{ name: 'http', containerPort: n, protocol: 'TCP' }];
  return {
    namespaces: [makeNamespace('shop', { team: 'shop' }), makeNamespace('billing', { team: 'billing' })],
    nodes: [
      { name: 'node-1', ips: [DEMO_IPS['node-1']!] },
      { name: 'node-2', ips: [DEMO_IPS['node-2']!] },
    ],
    pods: [
      makePod(
        'shop',
        'web',
        { app: 'web', tier: 'front' },
        { node: 'node-1', ip: DEMO_IPS.web!, ports: http(80) },
      ),
      makePod(
        'shop',
        'cart',
        { app: 'cart', tier: 'back' },
        { node: 'node-1', ip: DEMO_IPS.cart!, ports: http(8080) },
      ),
      makePod('billing', 'api', { app: 'api' }, { node: 'node-1', ip: DEMO_IPS.api!, ports: http(80) }),
      makePod(
        'shop',
        'db',
        { app: 'db', tier: 'data' },
        { node: 'node-2', ip: DEMO_IPS.db!, ports: [{ name: 'pg', containerPort: 5432, protocol: 'TCP' }] },
      ),
      makePod(
        'billing',
        'ledger',
        { app: 'ledger' },
        { node: 'node-2', ip: DEMO_IPS.ledger!, ports: http(9090) },
      ),
    ],
    policies,
  };
}
