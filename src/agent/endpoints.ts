// The node's local endpoints: pods this node's CNI plugin wired, with their host interface and addresses.
// Known from two sources: the CNI hand-off (immediately, before the API server has the pod's IP) and the
// node's IPAM records (after an agent restart). Merging them into the datastore's pods is pure.

import type { DatastoreSnapshot } from '../datastore/types.js';
import type { ClusterState, PodInfo } from '../model/cluster.js';

export interface LocalEndpoint {
  readonly containerID: string;
  readonly ifname: string;
  /** Host-side interface (the dispatch key). */
  readonly interface: string;
  readonly ips: readonly string[];
  /** From the CNI hand-off (CNI_ARGS K8S_POD_NAMESPACE/NAME); absent for endpoints found in IPAM records. */
  readonly namespace?: string;
  readonly name?: string;
}

/**
 * The cluster state the compiler sees on `node`: the datastore's, with this node's pods given their host
 * interface, and their addresses from the CNI hand-off when the API does not have them yet. A pod that never
 * gets an interface (not wired here) is not a local endpoint.
 */
export function mergeEndpoints(
  snap: DatastoreSnapshot,
  node: string,
  endpoints: readonly LocalEndpoint[],
): ClusterState {
  const byPod = new Map<string, LocalEndpoint>();
  const byIp = new Map<string, LocalEndpoint>();
  for (const e of endpoints) {
    if (e.namespace && e.name) byPod.set(`${e.namespace}/${e.name}`, e);
    for (const ip of e.ips) byIp.set(ip, e);
  }
  const pods = snap.pods.map((p): PodInfo => {
    if (p.node !== node) return p;
    const e = byPod.get(`${p.namespace}/${p.name}`) ?? p.ips.map((ip) => byIp.get(ip)).find(Boolean);
    if (!e) return p;
    return { ...p, interface: e.interface, ips: p.ips.length > 0 ? p.ips : e.ips };
  });
  // Everything the snapshot holds for policy, whatever its kinds: only the pods change here.
  const { revision: _revision, revisions: _revisions, synced: _synced, ...cluster } = snap;
  return { ...cluster, pods };
}

/** The hand-off registry: what the CNI plugin told this agent, keyed by container and interface. */
export class EndpointRegistry {
  private readonly entries = new Map<string, LocalEndpoint>();

  private static key(containerID: string, ifname: string): string {
    return `${containerID}/${ifname}`;
  }

  register(e: LocalEndpoint): void {
    this.entries.set(EndpointRegistry.key(e.containerID, e.ifname), e);
  }

  unregister(containerID: string, ifname: string): boolean {
    return this.entries.delete(EndpointRegistry.key(containerID, ifname));
  }

  /** Registered endpoints, completed with those only the IPAM records know (e.g. after a restart). */
  merged(fromIpam: readonly LocalEndpoint[]): LocalEndpoint[] {
    const out = new Map(this.entries);
    for (const e of fromIpam) {
      const key = EndpointRegistry.key(e.containerID, e.ifname);
      if (!out.has(key)) out.set(key, e);
    }
    return [...out.values()];
  }
}
