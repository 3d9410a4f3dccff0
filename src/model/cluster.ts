// A snapshot of the cluster state that policy is decided from: what the compiler and the reference evaluator
// read. Pure data.
import type { ContainerPort, Protocol } from './k8s.js';
import type { NetworkPolicy } from './network-policy.js';

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
  /** Annotations, except values longer than MAX_ANNOTATION_VALUE (e.g. kubectl's last-applied-configuration). */
  readonly annotations: Readonly<Record<string, string>>;
  readonly containers: readonly { readonly name: string; readonly ports: readonly ContainerPort[] }[];
  readonly initContainers: readonly { readonly name: string }[];
  /** metadata.uid, creationTimestamp and the controlling owner ("ReplicaSet/web-7d9f"), when known. */
  readonly uid?: string;
  readonly createdAt?: string;
  readonly owner?: string;
}

export const MAX_ANNOTATION_VALUE = 1024;

/** A pod's workload facts, with long annotation values left out (they cost memory and select nothing). */
export function workloadOf(
  annotations: Readonly<Record<string, string>>,
  containers: PodWorkload['containers'],
  initContainers: PodWorkload['initContainers'],
  meta: Pick<PodWorkload, 'uid' | 'createdAt' | 'owner'> = {},
): PodWorkload {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations)) if (v.length <= MAX_ANNOTATION_VALUE) kept[k] = v;
  return { annotations: kept, containers, initContainers, ...meta };
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
}

export interface ClusterState {
  readonly namespaces: readonly NamespaceInfo[];
  readonly pods: readonly PodInfo[];
  readonly nodes: readonly NodeInfo[];
  readonly policies: readonly NetworkPolicy[];
}

/** The first packet of a connection, as policy sees it. */
export interface Flow {
  readonly srcIp: string;
  readonly dstIp: string;
  readonly protocol: Protocol;
  readonly dstPort: number;
}
