// What the lab's kubelet sends the API server: its Node, Lease and pod status, as a kubelet shapes them. Pure.
import { toPodInfo } from '../../datastore/kube-convert.js';
import { isObject } from '../../model/k8s.js';
import type { PodToRun } from '../pods.js';

export const KUBELET_VERSION = 'v1.37.2-palisade-lab';
/** How often the node's Lease is renewed, and how long it counts (kubelet's defaults: 10 s, 40 s). */
export const LEASE_RENEW_MS = 10_000;
export const LEASE_DURATION_S = 40;

/**
 * The Node as the lab's kubelet registers it, with the plan's pod CIDR. Node IPAM then occupies that CIDR
 * instead of allocating one: its allocator can skip a /24 (an update event racing its own patch allocates a
 * second CIDR, which it releases without rewinding its cursor), so registration order alone does not give
 * node-i the i-th /24, and the scenarios' ipBlocks name the plan's CIDRs.
 */
/** The well-known labels a kubelet puts on its Node: both kinds of lab give their nodes these. */
export function nodeLabels(name: string): Record<string, string> {
  return { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' };
}

export function nodeObject(name: string, podCIDR: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: nodeLabels(name) },
    spec: { podCIDR, podCIDRs: [podCIDR] },
  };
}

/** The Node's status; Ready only once the node's CNI config exists (kubelet's NetworkReady). */
export function nodeStatus(opts: {
  name: string;
  ip: string;
  networkReady: boolean;
  now: Date;
  since: Date;
}): Record<string, unknown> {
  const resources = { cpu: '8', memory: '16Gi', pods: '250', 'ephemeral-storage': '100Gi' };
  const at = opts.now.toISOString();
  return {
    status: {
      addresses: [
        { type: 'InternalIP', address: opts.ip },
        { type: 'Hostname', address: opts.name },
      ],
      capacity: resources,
      allocatable: resources,
      conditions: [
        {
          type: 'Ready',
          status: opts.networkReady ? 'True' : 'False',
          reason: opts.networkReady ? 'KubeletReady' : 'KubeletNotReady',
          message: opts.networkReady
            ? 'lab kubelet is posting ready status'
            : 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:no CNI configuration file',
          lastHeartbeatTime: at,
          lastTransitionTime: opts.since.toISOString(),
        },
      ],
      nodeInfo: {
        machineID: opts.name,
        systemUUID: opts.name,
        bootID: opts.name,
        kernelVersion: '',
        osImage: 'palisade lab',
        containerRuntimeVersion: 'palisade-lab://1',
        kubeletVersion: KUBELET_VERSION,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

export function leaseObject(node: string, nodeUid: string, now: Date): Record<string, unknown> {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: node,
      namespace: 'kube-node-lease',
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node, uid: nodeUid }],
    },
    spec: { holderIdentity: node, leaseDurationSeconds: LEASE_DURATION_S, renewTime: leaseTime(now) },
  };
}

/** MicroTime: RFC 3339 with microseconds. */
export function leaseTime(now: Date): string {
  return now.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The parts of a Pod object the kubelet acts on. */
export interface BoundPod {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly hostNetwork: boolean;
  readonly deleting: boolean;
  readonly phase: string;
  readonly containers: readonly { readonly name: string; readonly image: string }[];
  readonly run: PodToRun;
}

export function boundPod(obj: Record<string, unknown>): BoundPod {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const spec = isObject(obj.spec) ? obj.spec : {};
  const status = isObject(obj.status) ? obj.status : {};
  const info = toPodInfo(obj);
  const containers = Array.isArray(spec.containers) ? spec.containers.filter(isObject) : [];
  const uid = typeof meta.uid === 'string' ? meta.uid : '';
  return {
    uid,
    namespace: info.namespace,
    name: info.name,
    hostNetwork: spec.hostNetwork === true,
    deleting: typeof meta.deletionTimestamp === 'string',
    phase: typeof status.phase === 'string' ? status.phase : '',
    containers: containers.map((c) => ({
      name: typeof c.name === 'string' ? c.name : '',
      image: typeof c.image === 'string' ? c.image : '',
    })),
    run: { namespace: info.namespace, name: info.name, labels: info.labels, ports: info.ports, uid },
  };
}

/** The status a kubelet reports once the pod's sandbox is wired and its containers run. */
export function runningPodStatus(opts: {
  pod: BoundPod;
  hostIP: string;
  podIP: string;
  containerID: string;
  started: Date;
}): Record<string, unknown> {
  const at = opts.started.toISOString();
  const condition = (type: string) => ({ type, status: 'True', lastTransitionTime: at });
  return {
    status: {
      phase: 'Running',
      hostIP: opts.hostIP,
      hostIPs: [{ ip: opts.hostIP }],
      podIP: opts.podIP,
      podIPs: [{ ip: opts.podIP }],
      startTime: at,
      conditions: [
        'PodReadyToStartContainers',
        'Initialized',
        'ContainersReady',
        'Ready',
        'PodScheduled',
      ].map(condition),
      containerStatuses: opts.pod.containers.map((c) => ({
        name: c.name,
        image: c.image,
        imageID: '',
        containerID: `palisade-lab://${opts.containerID}`,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: at } },
      })),
    },
  };
}
