// A snapshot of the cluster state that policy is decided from: what the compiler and the reference evaluator
// read. Pure data.

import type { ClusterNetworkPolicy } from './cluster-network-policy.js';
import type { GlobalNetworkPolicy } from './global-network-policy.js';
import type { HostEndpoint } from './host-endpoint.js';
import type { ContainerPort, Protocol } from './k8s.js';
import type { NetworkPolicy } from './network-policy.js';
import { mayLeaveOutValue } from './selection-values.js';

export interface NamespaceInfo {
  readonly name: string;
  /** Includes kubernetes.io/metadata.name, as the API server sets it. */
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * What chained (redirect) mode's selection reads of a pod (src/chained/selection.ts): annotations and the
 * containers by name. Policy never reads it; a change here does not recompile anything.
 */
export interface PodWorkload {
  /**
   * Every annotation key. A value is null when it was left out: a long one that no selection rule could read
   * differently (an injector's status, kubectl's last-applied-configuration; see mayLeaveOutValue).
   */
  readonly annotations: Readonly<Record<string, string | null>>;
  readonly containers: readonly { readonly name: string; readonly ports: readonly ContainerPort[] }[];
  readonly initContainers: readonly { readonly name: string }[];
  /** metadata.uid, creationTimestamp and the controlling owner ("ReplicaSet/web-7d9f"), when known. */
  readonly uid?: string;
  readonly createdAt?: string;
  readonly owner?: string;
}

/**
 * A pod's workload facts. Every annotation key is kept: a selection rule must never see a key the pod has as
 * absent. Values are kept whole, except long ones that cannot change a decision (mayLeaveOutValue), which become
 * null ("present, value not kept"): the agent holds 10k pods, and an injector's status or kubectl's
 * last-applied-configuration costs KiBs each. `allValues` keeps every value whole (one pod for one decision).
 */
export function workloadOf(
  pod: Omit<PodWorkload, 'annotations'> & { readonly annotations: Readonly<Record<string, string>> },
  opts: { readonly allValues?: boolean } = {},
): PodWorkload {
  const annotations: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(pod.annotations)) {
    annotations[k] = !opts.allValues && mayLeaveOutValue(v) ? null : v;
  }
  return { ...pod, annotations };
}

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  /** spec.nodeName. */
  readonly node: string;
  /** Pod IPs (one per family); a pod without an IP yet is ignored as a peer. */
  readonly ips: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: readonly ContainerPort[];
  /** The host-side interface of the pod on its node (known on that node once the CNI plugin has wired it). */
  readonly interface?: string;
  readonly workload?: PodWorkload;
}

export interface NodeInfo {
  readonly name: string;
  /** The node's own addresses (traffic between a node and its own pods is always allowed). */
  readonly ips: readonly string[];
  /** metadata.labels (a ClusterNetworkPolicy's `nodes` peer selects on them); absent: none. */
  readonly labels?: Readonly<Record<string, string>>;
  /** spec.podCIDRs (what node IPAM gave it): routed to it, through the tunnel when encryption is on. */
  readonly podCIDRs?: readonly string[];
  /** Its palisade.dev/wireguard annotation, as written (src/model/wireguard.ts reads it). */
  readonly wireguard?: string;
}

export interface ClusterState {
  readonly namespaces: readonly NamespaceInfo[];
  readonly pods: readonly PodInfo[];
  readonly nodes: readonly NodeInfo[];
  readonly policies: readonly NetworkPolicy[];
  /** policy.networking.k8s.io ClusterNetworkPolicies (absent: none). */
  readonly clusterPolicies?: readonly ClusterNetworkPolicy[];
  /** Calico-compatible GlobalNetworkPolicies, from every group they are served under (absent: none). */
  readonly globalPolicies?: readonly GlobalNetworkPolicy[];
  /** HostEndpoints of every node, from every group they are served under (absent: none). */
  readonly hostEndpoints?: readonly HostEndpoint[];
}

/** The first packet of a connection, as policy sees it. */
export interface Flow {
  readonly srcIp: string;
  readonly dstIp: string;
  readonly protocol: Protocol;
  readonly dstPort: number;
}
