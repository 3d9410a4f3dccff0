// The cluster state as the node compiler keeps it between syncs: pods (those with an address: only they can be
// peers or endpoints) and policies by key and by namespace, namespace labels. update() takes the next full
// state and returns what differs, in time linear in the number of pods but with a small constant: a pod object
// seen before is recognised by identity (one map lookup), and only new objects are compared field by field.
// Pure (no I/O); mutable by design.

import type { Family } from '../ir/ir.js';
import type { ClusterState, NodeInfo, PodInfo } from '../model/cluster.js';
import type { ClusterNetworkPolicy } from '../model/cluster-network-policy.js';
import { type GlobalNetworkPolicy, globalPolicyKey } from '../model/global-network-policy.js';
import type { HostEndpoint } from '../model/host-endpoint.js';
import { type NetworkPolicy, policyKey } from '../model/network-policy.js';
import {
  clusterPolicyOrderedKey,
  fromClusterNetworkPolicy,
  fromNetworkPolicy,
  hasNodesPeer,
  type OrderedPolicy,
} from './ordered.js';
import { dependsOnHostEndpoints, fromGlobalNetworkPolicy } from './ordered-global.js';
import { familyOf } from './pod-sets.js';

type Labels = Readonly<Record<string, string>>;

export type Change<T> = readonly [key: string, before: T | undefined, after: T | undefined];

export interface StateDelta {
  readonly pods: readonly Change<PodInfo>[];
  /** In the one ordered form (ordered.ts), whatever their kind. */
  readonly policies: readonly Change<OrderedPolicy>[];
  /** Some namespace's labels changed, or a namespace came or went. */
  readonly namespaceLabels: boolean;
}

export const podKeyOf = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;

export function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function sameLabels(a: Labels | undefined, b: Labels | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** Whether two versions of a pod are the same for policy (everything but the object's identity). */
export function samePod(a: PodInfo, b: PodInfo): boolean {
  if (a === b) return true;
  return (
    a.namespace === b.namespace &&
    a.name === b.name &&
    a.node === b.node &&
    a.interface === b.interface &&
    sameStrings(a.ips, b.ips) &&
    sameLabels(a.labels, b.labels) &&
    a.ports.length === b.ports.length &&
    a.ports.every((p, i) => {
      const q = b.ports[i]!;
      return p.name === q.name && p.protocol === q.protocol && p.containerPort === q.containerPort;
    })
  );
}

type PolicySource = NetworkPolicy | ClusterNetworkPolicy | GlobalNetworkPolicy;

const fingerprints = new WeakMap<PolicySource, string>();
function fingerprint(p: PolicySource): string {
  let f = fingerprints.get(p);
  if (f === undefined) {
    f = JSON.stringify(p);
    fingerprints.set(p, f);
  }
  return f;
}

export function samePolicy(a: PolicySource, b: PolicySource): boolean {
  return a === b || fingerprint(a) === fingerprint(b);
}

function put<T>(index: Map<string, Map<string, T>>, ns: string, key: string, value: T | undefined): void {
  const m = index.get(ns);
  if (value === undefined) {
    m?.delete(key);
    if (m?.size === 0) index.delete(ns);
  } else if (m) m.set(key, value);
  else index.set(ns, new Map([[key, value]]));
}

const hasV6 = (p: PodInfo) => p.ips.some((ip) => familyOf(ip) === 6);

export class ClusterIndex {
  namespaces = new Map<string, Labels>();
  readonly pods = new Map<string, PodInfo>();
  readonly podsByNs = new Map<string, Map<string, PodInfo>>();
  readonly policies = new Map<string, OrderedPolicy>();
  /** Policies whose subject is one namespace's pods (NetworkPolicy), by that namespace. */
  readonly policiesByNs = new Map<string, Map<string, OrderedPolicy>>();
  /** Policies whose subject can be in any namespace. */
  readonly clusterPolicies = new Map<string, OrderedPolicy>();
  /** The objects each policy was translated from, to recognise an unchanged one. */
  private readonly sources = new Map<string, PolicySource>();
  private nodes: readonly NodeInfo[] = [];
  private nodesKey = '[]';
  private hostEndpoints: readonly HostEndpoint[] = [];
  private hostEndpointsKey = '[]';
  /** The sync in which each stored pod object was last seen. */
  private readonly seen = new Map<PodInfo, number>();
  private epoch = 0;
  private v6Pods = 0;

  /** The cluster's nodes as last given. */
  get allNodes(): readonly NodeInfo[] {
    return this.nodes;
  }

  /** The host endpoints of a node (the same array while none of them changed). */
  hostEndpointsOf(node: string): readonly HostEndpoint[] {
    if (this.localHeps?.node !== node || this.localHeps.all !== this.hostEndpoints)
      this.localHeps = {
        node,
        all: this.hostEndpoints,
        mine: this.hostEndpoints.filter((h) => h.node === node),
      };
    return this.localHeps.mine;
  }
  private localHeps:
    | { node: string; all: readonly HostEndpoint[]; mine: readonly HostEndpoint[] }
    | undefined;

  /** Address families of the pods; always includes 4. */
  get families(): readonly Family[] {
    return this.v6Pods > 0 ? [4, 6] : [4];
  }

  nsLabels(ns: string): Labels {
    return this.namespaces.get(ns) ?? {};
  }

  update(state: ClusterState): StateDelta {
    const namespaces = new Map(state.namespaces.map((n) => [n.name, n.labels]));
    const namespaceLabels =
      namespaces.size !== this.namespaces.size ||
      [...namespaces].some(([ns, labels]) => !sameLabels(labels, this.namespaces.get(ns)));
    this.namespaces = namespaces;
    return {
      pods: this.updatePods(state.pods),
      policies: this.updatePolicies(state, {
        nodes: this.updateNodes(state.nodes),
        hostEndpoints: this.updateHostEndpoints(state.hostEndpoints ?? []),
      }),
      namespaceLabels,
    };
  }

  private setPod(key: string, before: PodInfo | undefined, after: PodInfo | undefined): void {
    if (before) {
      this.seen.delete(before);
      if (hasV6(before)) this.v6Pods -= 1;
    }
    if (after) {
      this.seen.set(after, this.epoch);
      if (hasV6(after)) this.v6Pods += 1;
      this.pods.set(key, after);
    } else this.pods.delete(key);
    if (before && after && before.namespace === after.namespace)
      put(this.podsByNs, after.namespace, key, after);
    else {
      if (before) put(this.podsByNs, before.namespace, key, undefined);
      if (after) put(this.podsByNs, after.namespace, key, after);
    }
  }

  private updatePods(pods: readonly PodInfo[]): Change<PodInfo>[] {
    const epoch = ++this.epoch;
    const changes: Change<PodInfo>[] = [];
    let present = 0;
    for (const p of pods) {
      const last = this.seen.get(p);
      if (last !== undefined) {
        // The very object stored: unchanged (counted once, should it appear twice).
        if (last !== epoch) {
          present += 1;
          this.seen.set(p, epoch);
        }
        continue;
      }
      const key = podKeyOf(p);
      const before = this.pods.get(key);
      if (before && this.seen.get(before) === epoch) continue; // the same pod twice: the first one counts
      const after = p.ips.length > 0 ? p : undefined;
      if (!before && !after) continue;
      if (before && after && samePod(before, after)) {
        this.seen.delete(before);
        this.seen.set(after, epoch);
        this.pods.set(key, after);
        put(this.podsByNs, after.namespace, key, after);
        present += 1;
        continue;
      }
      this.setPod(key, before, after);
      changes.push([key, before, after]);
      if (after) present += 1;
    }
    // Every stored pod seen this time is counted in `present`; fewer means some are gone.
    if (present < this.pods.size) {
      for (const [key, before] of this.pods) {
        if (this.seen.get(before) === epoch) continue;
        this.setPod(key, before, undefined);
        changes.push([key, before, undefined]);
      }
    }
    return changes;
  }

  /** Whether the nodes' names, addresses or labels changed (a nodes peer depends on them); keeps the new ones. */
  private updateNodes(nodes: readonly NodeInfo[]): boolean {
    if (nodes === this.nodes) return false;
    const key = JSON.stringify(nodes.map((n) => [n.name, n.ips, n.labels ?? {}]));
    this.nodes = nodes;
    if (key === this.nodesKey) return false;
    this.nodesKey = key;
    return true;
  }

  /** Whether the host endpoints' names, addresses or labels changed (a selector peer names them); keeps them. */
  private updateHostEndpoints(heps: readonly HostEndpoint[]): boolean {
    if (heps === this.hostEndpoints) return false;
    // Everything about them, so the host chains see any change; the same content keeps the old array.
    const key = JSON.stringify(heps);
    if (key === this.hostEndpointsKey) return false;
    this.hostEndpoints = heps;
    this.hostEndpointsKey = key;
    return true;
  }

  private translate(source: PolicySource): OrderedPolicy | undefined {
    switch (source.kind) {
      case 'NetworkPolicy':
        return fromNetworkPolicy(source);
      case 'ClusterNetworkPolicy':
        return fromClusterNetworkPolicy(source, this.nodes);
      case 'GlobalNetworkPolicy':
        return fromGlobalNetworkPolicy(source, this.hostEndpoints);
    }
  }

  /** Whether a policy's translation may differ now that nodes or host endpoints changed. */
  private static stale(source: PolicySource, changed: { nodes: boolean; hostEndpoints: boolean }): boolean {
    if (source.kind === 'ClusterNetworkPolicy') return changed.nodes && hasNodesPeer(source);
    if (source.kind === 'GlobalNetworkPolicy') return changed.hostEndpoints && dependsOnHostEndpoints(source);
    return false;
  }

  private updatePolicies(
    state: ClusterState,
    changed: { nodes: boolean; hostEndpoints: boolean },
  ): Change<OrderedPolicy>[] {
    const changes: Change<OrderedPolicy>[] = [];
    const next = new Map<string, PolicySource>(state.policies.map((p) => [policyKey(p), p]));
    for (const p of state.clusterPolicies ?? []) next.set(clusterPolicyOrderedKey(p), p);
    for (const p of state.globalPolicies ?? []) next.set(globalPolicyKey(p), p);
    for (const [key, source] of next) {
      const before = this.sources.get(key);
      if (before && samePolicy(before, source) && !ClusterIndex.stale(source, changed)) {
        this.sources.set(key, source); // the newest object: its fingerprint is what later syncs compare
        continue;
      }
      this.sources.set(key, source);
      const after = this.translate(source);
      const was = this.policies.get(key);
      if (was || after) changes.push([key, was, after]);
    }
    for (const [key] of this.sources) {
      if (next.has(key)) continue;
      this.sources.delete(key);
      const was = this.policies.get(key);
      if (was) changes.push([key, was, undefined]);
    }
    for (const [key, before, after] of changes) {
      if (before) this.place(key, before, undefined);
      if (after) {
        this.policies.set(key, after);
        this.place(key, undefined, after);
      } else this.policies.delete(key);
    }
    return changes;
  }

  /** Files a policy under its subject's namespace, or among the cluster-wide ones (undefined: takes it out). */
  private place(key: string, before: OrderedPolicy | undefined, after: OrderedPolicy | undefined): void {
    const p = (before ?? after)!;
    if (p.subject.namespace !== undefined) put(this.policiesByNs, p.subject.namespace, key, after);
    else if (after) this.clusterPolicies.set(key, after);
    else this.clusterPolicies.delete(key);
  }
}
