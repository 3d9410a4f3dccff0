// Where cluster state comes from: Kubernetes informers or a watched directory of manifests. Both produce the
// same snapshot; events only say "something changed" and the agent reads the snapshot (level-triggered).
import type { NamespaceInfo, NodeInfo, PodInfo } from '../model/cluster.js';
import type { ClusterNetworkPolicy } from '../model/cluster-network-policy.js';
import type { GlobalNetworkPolicy } from '../model/global-network-policy.js';
import type { HostEndpoint } from '../model/host-endpoint.js';
import type { NetworkPolicy } from '../model/network-policy.js';

export interface DatastoreSnapshot {
  /**
   * An opaque, increasing marker of the state this snapshot reflects: the Kubernetes resourceVersion of the
   * newest event seen, or the dir datastore's generation. Agents report the revision they have programmed.
   */
  readonly revision: string;
  /** Kubernetes only: the newest resourceVersion seen per resource (pods, namespaces, nodes, networkpolicies). */
  readonly revisions?: Readonly<Record<string, string>>;
  readonly namespaces: readonly NamespaceInfo[];
  /** Pods as the API has them (no host interface: the node's CNI hand-off adds that). */
  readonly pods: readonly PodInfo[];
  readonly nodes: readonly NodeInfo[];
  readonly policies: readonly NetworkPolicy[];
  /** policy.networking.k8s.io ClusterNetworkPolicies (absent: the source has none or does not read them). */
  readonly clusterPolicies?: readonly ClusterNetworkPolicy[];
  /** GlobalNetworkPolicies of every group served (absent: the source has none or does not read them). */
  readonly globalPolicies?: readonly GlobalNetworkPolicy[];
  /** HostEndpoints of every group served (absent: the source has none or does not read them). */
  readonly hostEndpoints?: readonly HostEndpoint[];
  /** True once every source has delivered its initial list. */
  readonly synced: boolean;
}

export interface Datastore {
  /** Starts watching; onChange is called (possibly many times, possibly in bursts) after each change. */
  start(onChange: () => void): Promise<void>;
  snapshot(): DatastoreSnapshot;
  stop(): Promise<void>;
  /**
   * Sets one annotation on the Node `node` (what the agent publishes about its node: its WireGuard key). Fails
   * when the Node does not exist; the next change is seen through the watch like any other.
   */
  annotateNode(node: string, key: string, value: string): Promise<void>;
}
