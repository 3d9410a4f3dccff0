// Kubernetes API objects (decoded JSON, exactly as list and watch deliver them) → the cluster model. Pure and
// total: an object of the wrong shape gives an entry with what could be read (never an exception), so one odd
// object cannot stop the datastore. NetworkPolicy goes through parseNetworkPolicy and ClusterNetworkPolicy through
// parseClusterNetworkPolicy, which fail closed; GlobalNetworkPolicy and HostEndpoint: kube-convert-calico.ts.
import { formatIp, tryParseIp } from '../model/cidr.js';
import { type NamespaceInfo, type NodeInfo, type PodInfo, workloadOf } from '../model/cluster.js';
import type { ClusterNetworkPolicy } from '../model/cluster-network-policy.js';
import {
  CLUSTER_NETWORK_POLICY_API_VERSION,
  parseClusterNetworkPolicy,
} from '../model/cluster-network-policy-parse.js';
import { type ContainerPort, isObject, PROTOCOLS } from '../model/k8s.js';
import type { NetworkPolicy } from '../model/network-policy.js';
import { NETWORK_POLICY_API_VERSION, parseNetworkPolicy } from '../model/network-policy-parse.js';
import { WIREGUARD_ANNOTATION } from '../model/wireguard.js';
import { compactCalicoKind } from './kube-convert-calico.js';

type Json = Record<string, unknown>;

const field = (o: unknown, key: string): unknown => (isObject(o) ? o[key] : undefined);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** Valid addresses in canonical text, each once; anything else is dropped (it could never be matched). */
function addresses(values: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    const ip = typeof v === 'string' ? tryParseIp(v) : undefined;
    const canonical = ip && formatIp(ip);
    if (canonical && !out.includes(canonical)) out.push(canonical);
  }
  return out;
}

export function metaOf(obj: unknown): { namespace: string; name: string; resourceVersion: string } {
  const meta = field(obj, 'metadata');
  return {
    namespace: text(field(meta, 'namespace')),
    name: text(field(meta, 'name')),
    resourceVersion: text(field(meta, 'resourceVersion')),
  };
}

export function toNamespaceInfo(obj: unknown): NamespaceInfo {
  return { name: metaOf(obj).name, labels: stringMap(field(field(obj, 'metadata'), 'labels')) };
}

/** status.addresses of type InternalIP and ExternalIP, and metadata.labels. */
export function toNodeInfo(obj: unknown): NodeInfo {
  const ips = list(field(field(obj, 'status'), 'addresses'))
    .filter((a) => {
      const type = field(a, 'type');
      return type === 'InternalIP' || type === 'ExternalIP';
    })
    .map((a) => field(a, 'address'));
  const spec = field(obj, 'spec');
  const cidrs = list(field(spec, 'podCIDRs')).filter((c): c is string => typeof c === 'string');
  const single = field(spec, 'podCIDR');
  const podCIDRs = cidrs.length > 0 ? cidrs : typeof single === 'string' ? [single] : [];
  const wireguard = field(field(field(obj, 'metadata'), 'annotations'), WIREGUARD_ANNOTATION);
  return {
    name: metaOf(obj).name,
    ips: addresses(ips),
    labels: stringMap(field(field(obj, 'metadata'), 'labels')),
    ...(podCIDRs.length > 0 ? { podCIDRs } : {}),
    ...(typeof wireguard === 'string' ? { wireguard } : {}),
  };
}

function containerPorts(container: unknown): ContainerPort[] {
  const out: ContainerPort[] = [];
  for (const p of list(field(container, 'ports'))) {
    const port = field(p, 'containerPort');
    const protocol = PROTOCOLS.find((x) => x === (field(p, 'protocol') ?? 'TCP'));
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535 || !protocol)
      continue;
    const name = field(p, 'name');
    out.push(
      typeof name === 'string' && name !== ''
        ? { name, containerPort: port, protocol }
        : { containerPort: port, protocol },
    );
  }
  return out;
}

/**
 * Pod IPs that may stand for the pod as a policy endpoint or peer. None for a hostNetwork pod (its IPs are the
 * node's, which node policy covers), nor for a pod that has finished (Succeeded/Failed: its IPs may already
 * belong to a new pod).
 */
function podIps(spec: unknown, status: unknown): string[] {
  if (field(spec, 'hostNetwork') === true) return [];
  const phase = field(status, 'phase');
  if (phase === 'Succeeded' || phase === 'Failed') return [];
  const podIPs = field(status, 'podIPs');
  if (Array.isArray(podIPs) && podIPs.length > 0) return addresses(podIPs.map((e) => field(e, 'ip')));
  return addresses([field(status, 'podIP')]);
}

/** uid, creationTimestamp and the controlling owner of a pod, for the repair controller. */
function podMeta(meta: unknown): { uid?: string; createdAt?: string; owner?: string } {
  const owner = list(field(meta, 'ownerReferences')).find((o) => field(o, 'controller') === true);
  const out: { uid?: string; createdAt?: string; owner?: string } = {};
  if (typeof field(meta, 'uid') === 'string') out.uid = text(field(meta, 'uid'));
  if (typeof field(meta, 'creationTimestamp') === 'string')
    out.createdAt = text(field(meta, 'creationTimestamp'));
  if (owner) out.owner = `${text(field(owner, 'kind'))}/${text(field(owner, 'name'))}`;
  return out;
}

/**
 * Ports of every container, and of restartable init containers (native sidecars, restartPolicy: Always), which
 * serve traffic like containers do; plain init containers have finished before the pod serves anything.
 * Annotations: every key; long values no selection rule could read differently are null (workloadOf), as the
 * informer cache holds 10k pods.
 */
export function toPodInfo(obj: unknown): PodInfo {
  return podInfoOf(obj, {});
}

/** toPodInfo with every annotation value whole: for one pod and one decision (the plugin's API fallback). */
export function toPodInfoWhole(obj: unknown): PodInfo {
  return podInfoOf(obj, { allValues: true });
}

function podInfoOf(obj: unknown, opts: { readonly allValues?: boolean }): PodInfo {
  const { namespace, name } = metaOf(obj);
  const spec = field(obj, 'spec');
  const sidecars = list(field(spec, 'initContainers')).filter((c) => field(c, 'restartPolicy') === 'Always');
  const containers = list(field(spec, 'containers'));
  return {
    namespace,
    name,
    node: text(field(spec, 'nodeName')),
    ips: podIps(spec, field(obj, 'status')),
    labels: stringMap(field(field(obj, 'metadata'), 'labels')),
    ports: [...containers, ...sidecars].flatMap(containerPorts),
    workload: workloadOf(
      {
        annotations: stringMap(field(field(obj, 'metadata'), 'annotations')),
        containers: containers.map((c) => ({ name: text(field(c, 'name')), ports: containerPorts(c) })),
        initContainers: list(field(spec, 'initContainers')).map((c) => ({ name: text(field(c, 'name')) })),
        ...podMeta(field(obj, 'metadata')),
      },
      opts,
    ),
  };
}

/**
 * Items of a list come without kind and apiVersion (the list carries them); watch events have them. Filled in
 * only when absent, so an object that really names another kind or version is reported by the parser.
 */
export function toNetworkPolicy(obj: unknown): NetworkPolicy {
  if (!isObject(obj)) return parseNetworkPolicy(obj);
  const doc: Json = { ...obj };
  doc.kind ??= 'NetworkPolicy';
  doc.apiVersion ??= NETWORK_POLICY_API_VERSION;
  return parseNetworkPolicy(doc);
}

/** As toNetworkPolicy: kind and apiVersion filled in when a list item comes without them. */
export function toClusterNetworkPolicy(obj: unknown): ClusterNetworkPolicy {
  if (!isObject(obj)) return parseClusterNetworkPolicy(obj);
  const doc: Json = { ...obj };
  doc.kind ??= 'ClusterNetworkPolicy';
  doc.apiVersion ??= CLUSTER_NETWORK_POLICY_API_VERSION;
  return parseClusterNetworkPolicy(doc);
}

/**
 * What the informer caches for a ClusterNetworkPolicy: the parsed policy, and what its status writer reads
 * (uid, generation, the stored conditions).
 */
export interface CompactClusterPolicy {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: { name: string; uid?: string; resourceVersion: string; generation?: number };
  readonly conditions?: unknown;
  readonly model: ClusterNetworkPolicy;
}

function compactClusterPolicy(obj: Json): CompactClusterPolicy {
  const meta = field(obj, 'metadata');
  const generation = field(meta, 'generation');
  const conditions = field(field(obj, 'status'), 'conditions');
  return {
    ...(typeof obj.kind === 'string' ? { kind: obj.kind } : {}),
    ...(typeof obj.apiVersion === 'string' ? { apiVersion: obj.apiVersion } : {}),
    metadata: {
      name: text(field(meta, 'name')),
      ...(typeof field(meta, 'uid') === 'string' ? { uid: text(field(meta, 'uid')) } : {}),
      resourceVersion: text(field(meta, 'resourceVersion')),
      ...(typeof generation === 'number' ? { generation } : {}),
    },
    ...(conditions !== undefined ? { conditions } : {}),
    model: toClusterNetworkPolicy(obj),
  };
}

const NUMERIC = /^[0-9]+$/;

/**
 * Whether resourceVersion `a` is newer than `b`. resourceVersions are documented as opaque, but every
 * etcd-backed API server uses etcd's revision, a decimal integer, and this relies on it: numeric values compare
 * as integers (BigInt: no precision limit). A non-numeric value cannot be ordered, so it counts as newer (the
 * latest one seen wins); the empty string is never newer.
 */
export function isNewerResourceVersion(a: string, b: string): boolean {
  if (a === '') return false;
  if (b === '') return true;
  if (NUMERIC.test(a) && NUMERIC.test(b)) return BigInt(a) > BigInt(b);
  return a !== b;
}

/** What the informers cache for a Pod, Namespace or Node: the metadata they key on, and the model itself. */
export interface CompactObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: { name: string; namespace?: string; uid?: string; resourceVersion: string };
  readonly model: PodInfo | NamespaceInfo | NodeInfo;
}

/**
 * An object converted on arrival, before the informer caches it: the cache then holds the model (and the
 * metadata an informer needs: name, namespace, resourceVersion), not the object. Real Pods carry managedFields,
 * images, env, volumes, conditions: several KB each that the agent never reads. A NetworkPolicy is kept whole:
 * it is parsed (failing closed) from what the server sent. A ClusterNetworkPolicy is parsed here, from what the
 * server sent, and kept with what its status needs (compactClusterPolicy). A GlobalNetworkPolicy or HostEndpoint
 * is parsed here too, as of its resource's group (compactCalicoKind).
 */
export function compactObject(resource: string, obj: object): object {
  if (resource === 'networkpolicies' || !isObject(obj)) return obj;
  if (resource === 'clusternetworkpolicies') return compactClusterPolicy(obj);
  const calico = compactCalicoKind(resource, obj);
  if (calico) return calico;
  const model =
    resource === 'pods' ? toPodInfo(obj) : resource === 'nodes' ? toNodeInfo(obj) : toNamespaceInfo(obj);
  const meta = field(obj, 'metadata');
  const out: Json = {
    metadata: {
      name: text(field(meta, 'name')),
      ...(typeof field(meta, 'namespace') === 'string' ? { namespace: field(meta, 'namespace') } : {}),
      ...(typeof field(meta, 'uid') === 'string' ? { uid: field(meta, 'uid') } : {}),
      resourceVersion: text(field(meta, 'resourceVersion')),
    },
    model,
  };
  if (typeof obj.kind === 'string') out.kind = obj.kind;
  if (typeof obj.apiVersion === 'string') out.apiVersion = obj.apiVersion;
  return out;
}

/** The model of an object the informer cached: converted already (compactObject), or now. */
export function modelOf<T>(obj: unknown, convert: (o: unknown) => T): T {
  const model = field(obj, 'model');
  return model !== undefined && isObject(model) ? (model as T) : convert(obj);
}
