// Resolving a rule's peers and ports against the cluster: which pod addresses, which CIDRs, which port ranges,
// which named-port triples. Pure.
import { type Cidr, disjointCidrs, parseCidr, subtractCidrs } from '../model/cidr.js';
import type { ClusterState, PodInfo } from '../model/cluster.js';
import type { Protocol } from '../model/k8s.js';
import type { PolicyPeer, PolicyPort } from '../model/network-policy.js';
import { selectorMatches } from '../model/selector.js';
import type { Family, PortRange } from './ir.js';

export interface ClusterIndex {
  readonly nsLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Pods that have at least one address: only they can be peers or endpoints. */
  readonly pods: readonly PodInfo[];
  readonly podsByNamespace: ReadonlyMap<string, readonly PodInfo[]>;
  /** Address families of any pod in the cluster (computed once per compile). */
  readonly podFamilies: ReadonlySet<Family>;
  /** Peer → matching pods, per policy namespace: a compile resolves each distinct peer once. */
  readonly peerCache: Map<string, PodInfo[]>;
}

export function buildIndex(state: ClusterState): ClusterIndex {
  const pods = state.pods.filter((p) => p.ips.length > 0);
  const podsByNamespace = new Map<string, PodInfo[]>();
  const podFamilies = new Set<Family>();
  for (const p of pods) {
    podsByNamespace.set(p.namespace, [...(podsByNamespace.get(p.namespace) ?? []), p]);
    for (const ip of p.ips) podFamilies.add(familyOf(ip));
  }
  return {
    nsLabels: new Map(state.namespaces.map((n) => [n.name, n.labels])),
    pods,
    podsByNamespace,
    podFamilies,
    peerCache: new Map(),
  };
}

export function familyOf(ip: string): Family {
  return ip.includes(':') ? 6 : 4;
}

/** Pods a selector peer matches, for a policy in namespace `policyNs`. An ipBlock peer matches no pod here. */
export function podsForPeer(idx: ClusterIndex, policyNs: string, peer: PolicyPeer): PodInfo[] {
  if (peer.ipBlock || (!peer.podSelector && !peer.namespaceSelector)) return [];
  const key = `${peer.namespaceSelector ? '*' : policyNs}\u0000${JSON.stringify(peer)}`;
  const cached = idx.peerCache.get(key);
  if (cached) return cached;
  // Namespaces first (few), then only their pods against the pod selector.
  const namespaces = peer.namespaceSelector
    ? [...idx.podsByNamespace.keys()].filter((ns) =>
        selectorMatches(peer.namespaceSelector!, idx.nsLabels.get(ns) ?? {}),
      )
    : [policyNs];
  const out = namespaces.flatMap((ns) =>
    (idx.podsByNamespace.get(ns) ?? []).filter(
      (p) => !peer.podSelector || selectorMatches(peer.podSelector, p.labels),
    ),
  );
  idx.peerCache.set(key, out);
  return out;
}

export interface ResolvedPeers {
  /** `from`/`to` was empty: every peer. */
  readonly any: boolean;
  readonly pods: readonly PodInfo[];
  /** ipBlocks with their excepts subtracted, disjoint. */
  readonly cidrs: readonly Cidr[];
  /** The rule named at least one selector peer (so its pod set exists even while empty). */
  readonly hasSelectorPeer: boolean;
  readonly hasIpBlock: boolean;
}

export function resolvePeers(
  idx: ClusterIndex,
  policyNs: string,
  peers: readonly PolicyPeer[],
): ResolvedPeers {
  const pods = new Map<string, PodInfo>();
  const cidrs: Cidr[] = [];
  for (const peer of peers) {
    for (const p of podsForPeer(idx, policyNs, peer)) pods.set(`${p.namespace}/${p.name}`, p);
    if (peer.ipBlock) {
      const base = parseCidr(peer.ipBlock.cidr);
      cidrs.push(
        ...subtractCidrs(
          base,
          peer.ipBlock.except.map((e) => parseCidr(e)),
        ),
      );
    }
  }
  return {
    any: peers.length === 0,
    pods: [...pods.values()],
    cidrs: disjointCidrs(cidrs),
    hasSelectorPeer: peers.some((p) => !p.ipBlock),
    hasIpBlock: peers.some((p) => p.ipBlock !== undefined),
  };
}

export interface PortPlan {
  /** `ports` was empty: every port of every protocol. */
  readonly any: boolean;
  /** Per protocol: merged numeric ranges; an empty list means every port of that protocol. */
  readonly numeric: ReadonlyMap<Protocol, readonly PortRange[]>;
  readonly named: readonly { readonly name: string; readonly protocol: Protocol }[];
}

/** Sorts and merges overlapping or adjacent ranges (nft rejects overlapping intervals in one set). */
export function mergeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) out[out.length - 1] = { from: last.from, to: Math.max(last.to, r.to) };
    else out.push(r);
  }
  return out;
}

export function planPorts(ports: readonly PolicyPort[]): PortPlan {
  const numeric = new Map<Protocol, PortRange[] | 'all'>();
  const named: { name: string; protocol: Protocol }[] = [];
  for (const p of ports) {
    if (typeof p.port === 'string') {
      if (!named.some((n) => n.name === p.port && n.protocol === p.protocol))
        named.push({ name: p.port, protocol: p.protocol });
      continue;
    }
    const current = numeric.get(p.protocol) ?? [];
    if (p.port === undefined || current === 'all') {
      numeric.set(p.protocol, 'all');
      continue;
    }
    current.push({ from: p.port, to: p.endPort ?? p.port });
    numeric.set(p.protocol, current);
  }
  const merged = new Map<Protocol, readonly PortRange[]>();
  for (const [proto, ranges] of [...numeric.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    merged.set(proto, ranges === 'all' ? [] : mergeRanges(ranges));
  }
  return { any: ports.length === 0, numeric: merged, named };
}

export interface NamedTriple {
  readonly ip: string;
  readonly protocol: Protocol;
  readonly port: number;
}

/** For each pod that declares a port of that name and protocol: its addresses with the port's number. */
export function namedPortTriples(pods: readonly PodInfo[], named: PortPlan['named']): NamedTriple[] {
  const out: NamedTriple[] = [];
  for (const pod of pods) {
    for (const n of named) {
      const cp = pod.ports.find((p) => p.name === n.name && p.protocol === n.protocol);
      if (cp) for (const ip of pod.ips) out.push({ ip, protocol: n.protocol, port: cp.containerPort });
    }
  }
  return out;
}
