// What the kubernetes datastore knows beyond the informers' caches: which resources have delivered their
// initial list (or are not served at all), and the revision. snapshot() converts the cached API objects to the
// model, memoised per object (an informer replaces an object on every change, so an unchanged object keeps its
// conversion). GlobalNetworkPolicies and HostEndpoints come from one resource per group watched, merged and
// sorted by key.

import { CALICO_GROUPS, type CalicoGroup, servedGroups } from '../model/calico-groups.js';
import type { ClusterNetworkPolicy } from '../model/cluster-network-policy.js';
import { type GlobalNetworkPolicy, globalPolicyKey } from '../model/global-network-policy.js';
import { type HostEndpoint, hostEndpointKey } from '../model/host-endpoint.js';
import {
  type CompactClusterPolicy,
  isNewerResourceVersion,
  metaOf,
  modelOf,
  toClusterNetworkPolicy,
  toNamespaceInfo,
  toNetworkPolicy,
  toNodeInfo,
  toPodInfo,
} from './kube-convert.js';
import {
  CALICO_KINDS,
  type CalicoKindPlural,
  type CalicoKindResource,
  type CompactCalicoKind,
  calicoKindResource,
  splitCalicoKindResource,
  toGlobalNetworkPolicy,
  toHostEndpoint,
} from './kube-convert-calico.js';
import type { DatastoreSnapshot } from './types.js';

export type KubeResource =
  | 'namespaces'
  | 'pods'
  | 'nodes'
  | 'networkpolicies'
  | 'clusternetworkpolicies'
  | CalicoKindResource;

/** What the datastore watches, with GlobalNetworkPolicies and HostEndpoints of palisade.dev and `calicoGroups`. */
export function kubeResources(calicoGroups: readonly CalicoGroup[] = CALICO_GROUPS): KubeResource[] {
  const calicoKinds = servedGroups(calicoGroups).flatMap((g) =>
    (Object.keys(CALICO_KINDS) as CalicoKindPlural[]).map((p) => calicoKindResource(p, g)),
  );
  return ['namespaces', 'pods', 'nodes', 'networkpolicies', 'clusternetworkpolicies', ...calicoKinds];
}

/** An informer's cache, as far as the store reads it. */
export interface ObjectList {
  list(): ReadonlyArray<object>;
}

const OBJECT_EVENTS = new Set(['ADDED', 'MODIFIED', 'DELETED']);

// Code-unit order (the order the compiler sorts in), not locale order.
const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
const byKey = (a: { namespace?: string; name: string }, b: { namespace?: string; name: string }): number =>
  cmp(a.namespace ?? '', b.namespace ?? '') || cmp(a.name, b.name);

export class KubeStore {
  /** The resources watched: synced once every one of them is. */
  constructor(private readonly resources: readonly KubeResource[] = kubeResources()) {}

  private readonly caches = new Map<KubeResource, ObjectList>();
  private readonly synced = new Set<KubeResource>();
  /** Resources the API server does not serve (a CRD not installed): synced, and empty whatever is cached. */
  private readonly notServed = new Set<KubeResource>();
  private readonly memo = new WeakMap<object, unknown>();
  /** The newest resourceVersion applied: of a list, or of an object an event carried (not of a bookmark). */
  private revision = '0';
  /** The same, per resource: a lab (or a test) that wrote objects of one kind waits on that kind's watch. */
  private readonly revisions = new Map<KubeResource, string>();

  setCache(resource: KubeResource, cache: ObjectList): void {
    this.caches.set(resource, cache);
  }

  /** The informer has applied a list taken at `resourceVersion`. True when it is the resource's first. */
  applyList(resource: KubeResource, resourceVersion: string): boolean {
    this.advance(resource, resourceVersion);
    this.notServed.delete(resource);
    const first = !this.synced.has(resource);
    this.synced.add(resource);
    return first;
  }

  /**
   * A list answered 404: the resource is not served (its CRD is not installed, or was removed). It counts as
   * synced and holds nothing until a list succeeds. True when this is news (it was served or never listed).
   */
  applyNotServed(resource: KubeResource): boolean {
    const news = !this.notServed.has(resource);
    this.notServed.add(resource);
    this.synced.add(resource);
    return news;
  }

  /** The cached ClusterNetworkPolicies with what their status needs (none when the resource is not served). */
  clusterPolicyObjects(): CompactClusterPolicy[] {
    if (this.notServed.has('clusternetworkpolicies')) return [];
    const objects = this.caches.get('clusternetworkpolicies')?.list() ?? [];
    return objects.filter((o): o is CompactClusterPolicy => 'model' in o);
  }

  /** The cached GlobalNetworkPolicies and HostEndpoints of every group served, with what their status needs. */
  calicoObjects(): CompactCalicoKind[] {
    return this.resources.flatMap((r) => {
      if (!splitCalicoKindResource(r) || this.notServed.has(r)) return [];
      const objects = this.caches.get(r)?.list() ?? [];
      return objects.filter((o): o is CompactCalicoKind => 'model' in o);
    });
  }

  /**
   * A watch event the informer is applying. A BOOKMARK says no more than "nothing changed up to here" for one
   * resource, and ERROR carries a Status: neither moves the revision.
   */
  applyEvent(resource: KubeResource, type: string, object: unknown): void {
    if (OBJECT_EVENTS.has(type)) this.advance(resource, metaOf(object).resourceVersion);
  }

  snapshot(): DatastoreSnapshot {
    return {
      revision: this.revision,
      revisions: Object.fromEntries(this.revisions),
      namespaces: this.convert('namespaces', toNamespaceInfo).sort(byKey),
      pods: this.convert('pods', toPodInfo).sort(byKey),
      nodes: this.convert('nodes', toNodeInfo).sort(byKey),
      policies: this.convert('networkpolicies', toNetworkPolicy).sort(byKey),
      clusterPolicies: this.notServed.has('clusternetworkpolicies')
        ? []
        : this.convert<ClusterNetworkPolicy>('clusternetworkpolicies', toClusterNetworkPolicy).sort(byKey),
      globalPolicies: this.calicoKind<GlobalNetworkPolicy>(
        'globalnetworkpolicies',
        toGlobalNetworkPolicy,
      ).sort((a, b) => cmp(globalPolicyKey(a), globalPolicyKey(b))),
      hostEndpoints: this.calicoKind<HostEndpoint>('hostendpoints', toHostEndpoint).sort((a, b) =>
        cmp(hostEndpointKey(a), hostEndpointKey(b)),
      ),
      synced: this.resources.every((r) => this.synced.has(r)),
    };
  }

  /** One kind of every group watched and served. */
  private calicoKind<T>(plural: CalicoKindPlural, fn: (obj: unknown, apiVersion: string) => T): T[] {
    return this.resources.flatMap((r) => {
      const split = splitCalicoKindResource(r);
      if (split?.plural !== plural || this.notServed.has(r)) return [];
      return this.convert(r, (o) => fn(o, split.apiVersion));
    });
  }

  private advance(resource: KubeResource, resourceVersion: string): void {
    if (isNewerResourceVersion(resourceVersion, this.revision)) this.revision = resourceVersion;
    if (isNewerResourceVersion(resourceVersion, this.revisions.get(resource) ?? '0'))
      this.revisions.set(resource, resourceVersion);
  }

  private convert<T>(resource: KubeResource, fn: (obj: unknown) => T): T[] {
    const objects = this.caches.get(resource)?.list() ?? [];
    return objects.map((obj) => {
      let out = this.memo.get(obj) as T | undefined;
      if (out === undefined) {
        out = modelOf(obj, fn);
        this.memo.set(obj, out);
      }
      return out;
    });
  }
}
