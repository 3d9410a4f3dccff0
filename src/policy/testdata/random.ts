// Seeded random clusters and policies for fuzz and differential tests (same seed, same cluster).
import type { ClusterState, PodInfo } from '../../model/cluster.js';
import {
  CLUSTER_POLICY_ACTIONS,
  CLUSTER_POLICY_TIERS,
  type ClusterEgressPeer,
  type ClusterEgressRule,
  type ClusterIngressRule,
  type ClusterNetworkPolicy,
  type ClusterPolicyProtocol,
} from '../../model/cluster-network-policy.js';
import type { ContainerPort, Protocol } from '../../model/k8s.js';
import type {
  LabelSelector,
  LabelSelectorRequirement,
  NetworkPolicy,
  PolicyPeer,
  PolicyPort,
  PolicyRule,
  PolicyType,
} from '../../model/network-policy.js';
import { makeNamespace } from './builders.js';
import { randomGlobalPolicy, randomHostEndpoints } from './random-global.js';

/** mulberry32: small, fast, good enough for test generation. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  constructor(readonly rnd: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  some<T>(xs: readonly T[], max: number): T[] {
    return Array.from({ length: this.int(0, max) }, () => this.pick(xs));
  }
}

export const NAMESPACES = ['a', 'b', 'c'];
export const LABEL_KEYS = ['app', 'tier', 'env'];
export const LABEL_VALUES = ['x', 'y', 'z'];
export const PORT_NUMBERS = [53, 80, 443, 5000, 8080];
export const PORT_NAMES = ['http', 'dns', 'metrics'];
const PROTOCOLS: Protocol[] = ['TCP', 'UDP', 'SCTP'];

function labels(g: Gen): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of LABEL_KEYS) if (g.chance(0.6)) out[k] = g.pick(LABEL_VALUES);
  return out;
}

function selector(g: Gen): LabelSelector {
  const matchLabels: Record<string, string> = {};
  if (g.chance(0.5)) matchLabels[g.pick(LABEL_KEYS)] = g.pick(LABEL_VALUES);
  const matchExpressions: LabelSelectorRequirement[] = g.some(LABEL_KEYS, 2).map((key) => {
    const operator = g.pick(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const);
    const values =
      operator === 'In' || operator === 'NotIn'
        ? [...new Set(g.some(LABEL_VALUES, 2).concat(g.pick(LABEL_VALUES)))]
        : [];
    return { key, operator, values };
  });
  return { matchLabels, matchExpressions };
}

function peer(g: Gen): PolicyPeer {
  switch (g.int(0, 3)) {
    case 0:
      return { podSelector: selector(g) };
    case 1:
      return { namespaceSelector: selector(g) };
    case 2:
      return { podSelector: selector(g), namespaceSelector: selector(g) };
    default: {
      if (g.chance(0.5)) {
        return {
          ipBlock: { cidr: '10.244.0.0/16', except: g.chance(0.5) ? [`10.244.${g.int(1, 3)}.0/24`] : [] },
        };
      }
      const x = g.int(1, 3); // an except must lie inside its cidr, as the API server requires
      return {
        ipBlock: {
          cidr: `10.244.${x}.0/24`,
          except: g.chance(0.5) ? [`10.244.${x}.${g.pick([0, 4, 8])}/30`] : [],
        },
      };
    }
  }
}

function port(g: Gen): PolicyPort {
  const protocol = g.pick(PROTOCOLS);
  switch (g.int(0, 3)) {
    case 0:
      return { protocol };
    case 1:
      return { protocol, port: g.pick(PORT_NUMBERS) };
    case 2: {
      const from = g.pick(PORT_NUMBERS);
      return { protocol, port: from, endPort: from + g.int(0, 100) };
    }
    default:
      return { protocol, port: g.pick(PORT_NAMES) };
  }
}

function rules(g: Gen): PolicyRule[] {
  return Array.from({ length: g.int(0, 3) }, () => ({
    peers: g.chance(0.2) ? [] : Array.from({ length: g.int(1, 3) }, () => peer(g)),
    ports: g.chance(0.3) ? [] : Array.from({ length: g.int(1, 3) }, () => port(g)),
  }));
}

export function randomPolicy(g: Gen, i: number): NetworkPolicy {
  const types: PolicyType[][] = [['Ingress'], ['Egress'], ['Ingress', 'Egress']];
  const broken = g.chance(0.05);
  return {
    kind: 'NetworkPolicy',
    namespace: g.pick(NAMESPACES),
    name: `p${i}`,
    podSelector: g.chance(0.3) ? { matchLabels: {}, matchExpressions: [] } : selector(g),
    policyTypes: g.pick(types),
    ingress: broken ? [] : rules(g),
    egress: broken ? [] : rules(g),
    problems: broken ? ['spec: generated as broken'] : [],
  };
}

function containerPorts(g: Gen): ContainerPort[] {
  const used = new Set<string>();
  const out: ContainerPort[] = [];
  for (const name of PORT_NAMES) {
    if (!g.chance(0.5)) continue;
    const p: ContainerPort = { name, containerPort: g.pick(PORT_NUMBERS), protocol: g.pick(PROTOCOLS) };
    const key = `${p.containerPort}/${p.protocol}`;
    if (used.has(key)) continue;
    used.add(key);
    out.push(p);
  }
  return out;
}

const CNP_NETWORKS = ['10.244.0.0/16', '10.244.1.0/24', '10.244.2.0/25', '192.0.2.0/24', '198.18.0.0/24'];

function clusterPeer(g: Gen, egress: boolean): ClusterEgressPeer {
  switch (g.int(0, egress ? 5 : 2)) {
    case 0:
      return { kind: 'namespaces', namespaceSelector: selector(g) };
    case 1:
      return { kind: 'pods', namespaceSelector: selector(g), podSelector: selector(g) };
    case 2:
      return g.chance(0.1)
        ? { kind: 'any' }
        : { kind: 'pods', namespaceSelector: selector(g), podSelector: selector(g) };
    case 3:
      return {
        kind: 'networks',
        networks: [...new Set(g.some(CNP_NETWORKS, 2).concat(g.pick(CNP_NETWORKS)))],
      };
    case 4:
      return { kind: 'nodes', nodeSelector: selector(g) };
    default:
      return { kind: 'domainNames', domainNames: ['example.com'] };
  }
}

/** Node labels for random clusters: fixed, so adding them changes no seed's other draws. */
export const NODE_LABELS: Readonly<Record<string, Record<string, string>>> = {
  'node-1': { app: 'x', tier: 'y' },
  'node-2': { app: 'y' },
};

function clusterProtocol(g: Gen): ClusterPolicyProtocol {
  const protocol = g.pick(PROTOCOLS);
  switch (g.int(0, 2)) {
    case 0:
      return { kind: 'port', protocol, port: g.pick(PORT_NUMBERS) };
    case 1: {
      const start = g.pick(PORT_NUMBERS);
      return { kind: 'portRange', protocol, start, end: start + g.int(1, 100) };
    }
    default:
      return { kind: 'namedPort', name: g.pick(PORT_NAMES) };
  }
}

function clusterRules(g: Gen, egress: boolean): ClusterEgressRule[] {
  return Array.from({ length: g.int(0, 3) }, () => {
    const peers = Array.from({ length: g.int(1, 2) }, () => clusterPeer(g, egress));
    // domainNames only in Accept rules, as the API requires.
    const action = peers.some((p) => p.kind === 'domainNames') ? 'Accept' : g.pick(CLUSTER_POLICY_ACTIONS);
    const protocols = g.chance(0.4) ? [] : Array.from({ length: g.int(1, 2) }, () => clusterProtocol(g));
    return { action, peers, protocols };
  });
}

/** A random ClusterNetworkPolicy: either tier, priorities often equal, every action and every kind of peer. */
export function randomClusterPolicy(g: Gen, i: number): ClusterNetworkPolicy {
  return {
    kind: 'ClusterNetworkPolicy',
    name: `c${i}`,
    tier: g.pick(CLUSTER_POLICY_TIERS),
    priority: g.pick([0, 1, 1, 5]),
    subject: g.chance(0.5)
      ? { kind: 'namespaces', namespaceSelector: selector(g) }
      : { kind: 'pods', namespaceSelector: selector(g), podSelector: selector(g) },
    ingress: clusterRules(g, false) as ClusterIngressRule[],
    egress: clusterRules(g, true),
    problems: [],
    notProgrammed: [],
  };
}

/** 2 nodes, `pods` pods in 3 namespaces with random labels and named ports, `policies` random policies. */
export function randomCluster(
  seed: number,
  opts: { pods: number; policies: number; clusterPolicies?: number; globalPolicies?: number },
): ClusterState {
  const g = new Gen(prng(seed));
  const pods: PodInfo[] = Array.from({ length: opts.pods }, (_, i) => {
    const node = i % 2 === 0 ? 'node-1' : 'node-2';
    return {
      namespace: g.pick(NAMESPACES),
      name: `pod${i}`,
      node,
      ips: [`10.244.${node === 'node-1' ? 1 : 2}.${i + 1}`],
      labels: labels(g),
      ports: containerPorts(g),
      interface: `palpod${i}`,
    };
  });
  return {
    namespaces: NAMESPACES.map((n) => makeNamespace(n, labels(g))),
    nodes: [
      { name: 'node-1', ips: ['198.18.0.11'], labels: NODE_LABELS['node-1'] },
      { name: 'node-2', ips: ['198.18.0.12'], labels: NODE_LABELS['node-2'] },
    ],
    pods,
    policies: Array.from({ length: opts.policies }, (_, i) => randomPolicy(g, i)),
    ...(opts.clusterPolicies
      ? { clusterPolicies: Array.from({ length: opts.clusterPolicies }, (_, i) => randomClusterPolicy(g, i)) }
      : {}),
    ...(opts.globalPolicies
      ? {
          globalPolicies: Array.from({ length: opts.globalPolicies }, (_, i) => randomGlobalPolicy(g, i)),
          hostEndpoints: randomHostEndpoints(g),
        }
      : {}),
  };
}
