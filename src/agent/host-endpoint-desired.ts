// The automatic HostEndpoint of a node (issue 11 §3), decided purely: what the object should be, given the
// Node and the agent's options, and what one write brings the stored object there. The Kubernetes side
// (src/datastore/kube-host-endpoint-controller.ts) watches, calls planHostEndpoint and sends what it returns.
//
// The object (palisade.dev/v1 HostEndpoint, cluster-scoped):
// - name: the node's name (seed 003's convention, and Calico's `<node>-auto-hep` minus the suffix): one per
//   node, found by name, so an agent only ever addresses its own node's endpoint.
// - labels: the Node's labels, then the configured extra labels (they win), then MANAGED_BY_LABEL. Exactly
//   these: a label the Node loses, or one added by hand, is removed (label the Node, or configure an extra
//   label, to keep one).
// - spec: exactly {node, interfaceName: "*", expectedIPs, profiles: [DEFAULT_ALLOW_PROFILE]}; expectedIPs are
//   the Node's InternalIP and ExternalIP addresses (canonical text, first occurrence kept). The profile keeps
//   the node open while no policy selects it, as Calico's automatic host endpoints do.
// - ownerReferences: the Node (apiVersion v1, name, uid), controller false (the Node does not manage it; the
//   agent does), blockOwnerDeletion false (true would need update on nodes/finalizers and would hold the Node's
//   foreground deletion on it). The garbage collector deletes the endpoint once its Node is gone. Other owner
//   references are kept.
// - Annotations and every other metadata field are left as they are.
//
// An object of that name without MANAGED_BY_LABEL, or whose spec.node names another node, is someone else's:
// never written (the plan says "foreign"; the controller reports it). Nothing is written while the Node is
// missing or being deleted, or while the endpoint is being deleted (its deletion ends in a watch event, and the
// endpoint is then created again if the Node is still there).
import { formatIp, tryParseIp } from '../model/cidr.js';
import { DEFAULT_ALLOW_PROFILE } from '../model/host-endpoint.js';
import { isLabelKey, isLabelValue, isObject } from '../model/k8s.js';

type Json = Record<string, unknown>;

export const HOST_ENDPOINT_API_VERSION = 'palisade.dev/v1';
export const MANAGED_BY_LABEL = 'palisade.dev/managed-by';
export const MANAGED_BY_AGENT = 'palisade-agent';
/** The Node address types whose addresses become expectedIPs. */
const ADDRESS_TYPES = new Set(['InternalIP', 'ExternalIP']);

export interface HostEndpointOptions {
  /** This agent's node: the endpoint's name and spec.node. */
  readonly node: string;
  /** Added to the Node's labels (they win on conflict), e.g. {"host-endpoint": "ingress"}. */
  readonly extraLabels: Readonly<Record<string, string>>;
}

/** What the endpoint is made from: the Node's name, uid, labels and addresses. */
export interface NodeFacts {
  readonly name: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly expectedIPs: readonly string[];
  /** metadata.deletionTimestamp is set. */
  readonly terminating: boolean;
}

/** The facts of a Node as the API sent it; undefined without a name or uid. */
export function nodeFactsOf(raw: unknown): NodeFacts | undefined {
  if (!isObject(raw) || !isObject(raw.metadata)) return undefined;
  const { name, uid, labels, deletionTimestamp } = raw.metadata;
  if (typeof name !== 'string' || typeof uid !== 'string' || name === '' || uid === '') return undefined;
  const ips: string[] = [];
  const addresses = isObject(raw.status) && Array.isArray(raw.status.addresses) ? raw.status.addresses : [];
  for (const a of addresses) {
    if (!isObject(a) || typeof a.type !== 'string' || !ADDRESS_TYPES.has(a.type)) continue;
    const ip = typeof a.address === 'string' ? tryParseIp(a.address) : undefined;
    const text = ip && formatIp(ip);
    if (text && !ips.includes(text)) ips.push(text);
  }
  return {
    name,
    uid,
    labels: stringMap(labels),
    expectedIPs: ips,
    terminating: deletionTimestamp !== undefined && deletionTimestamp !== null,
  };
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [k, s] of Object.entries(v)) if (typeof s === 'string') out[k] = s;
  return out;
}

export function desiredLabels(node: NodeFacts, opts: HostEndpointOptions): Record<string, string> {
  return { ...node.labels, ...opts.extraLabels, [MANAGED_BY_LABEL]: MANAGED_BY_AGENT };
}

export function desiredSpec(node: NodeFacts): Json {
  return {
    node: node.name,
    interfaceName: '*',
    expectedIPs: [...node.expectedIPs],
    profiles: [DEFAULT_ALLOW_PROFILE],
  };
}

export function nodeOwnerReference(node: NodeFacts): Json {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    name: node.name,
    uid: node.uid,
    controller: false,
    blockOwnerDeletion: false,
  };
}

/** The whole object, as created. */
export function desiredHostEndpoint(node: NodeFacts, opts: HostEndpointOptions): Json {
  return {
    apiVersion: HOST_ENDPOINT_API_VERSION,
    kind: 'HostEndpoint',
    metadata: {
      name: opts.node,
      labels: desiredLabels(node, opts),
      ownerReferences: [nodeOwnerReference(node)],
    },
    spec: desiredSpec(node),
  };
}

export type HostEndpointPlan =
  /** The endpoint is as it should be. */
  | { readonly action: 'none' }
  /** Nothing to write until something changes (the Node missing or going, the endpoint going). */
  | { readonly action: 'wait'; readonly reason: string }
  | { readonly action: 'create'; readonly body: Json }
  /** A JSON merge patch carrying metadata.resourceVersion (refused with 409 if the object changed since). */
  | { readonly action: 'patch'; readonly body: Json; readonly changed: readonly string[] }
  /** An object of that name that is not this agent's: left alone. */
  | { readonly action: 'foreign'; readonly reason: string };

/**
 * What to do, given the Node (undefined: it does not exist) and the stored endpoint (undefined: none), both as
 * the API sent them.
 */
export function planHostEndpoint(
  rawNode: unknown,
  current: Json | undefined,
  opts: HostEndpointOptions,
): HostEndpointPlan {
  const node = rawNode === undefined ? undefined : nodeFactsOf(rawNode);
  const meta = current && isObject(current.metadata) ? current.metadata : undefined;
  if (current) {
    const labels = stringMap(meta?.labels);
    const specNode = isObject(current.spec) ? current.spec.node : undefined;
    if (labels[MANAGED_BY_LABEL] !== MANAGED_BY_AGENT)
      return {
        action: 'foreign',
        reason: `HostEndpoint ${opts.node} exists without the label ${MANAGED_BY_LABEL}=${MANAGED_BY_AGENT}: someone else's, left alone`,
      };
    if (specNode !== undefined && specNode !== opts.node)
      return {
        action: 'foreign',
        reason: `HostEndpoint ${opts.node} names node ${JSON.stringify(specNode)} in spec.node: left alone`,
      };
    if (meta?.deletionTimestamp) return { action: 'wait', reason: 'the HostEndpoint is being deleted' };
  }
  if (!node || node.name !== opts.node) return { action: 'wait', reason: `Node ${opts.node} does not exist` };
  if (node.terminating) return { action: 'wait', reason: `Node ${opts.node} is being deleted` };
  if (!current) return { action: 'create', body: desiredHostEndpoint(node, opts) };
  return patchFor(node, current, meta ?? {}, opts);
}

function patchFor(node: NodeFacts, current: Json, meta: Json, opts: HostEndpointOptions): HostEndpointPlan {
  const changed: string[] = [];
  const metaPatch: Json = {};
  const labels = mapPatch(stringMap(meta.labels), desiredLabels(node, opts));
  if (labels) {
    metaPatch.labels = labels;
    changed.push('metadata.labels');
  }
  const refs = Array.isArray(meta.ownerReferences) ? meta.ownerReferences : [];
  const isNodeRef = (r: unknown) =>
    isObject(r) && r.apiVersion === 'v1' && r.kind === 'Node' && r.name === node.name;
  const ours = refs.filter(isNodeRef);
  if (ours.length !== 1 || !isObject(ours[0]) || ours[0].uid !== node.uid) {
    metaPatch.ownerReferences = [...refs.filter((r) => !isNodeRef(r)), nodeOwnerReference(node)];
    changed.push('metadata.ownerReferences');
  }
  const spec = isObject(current.spec) ? current.spec : {};
  const specPatch: Json = {};
  const want = desiredSpec(node);
  for (const [k, v] of Object.entries(want)) {
    if (!sameJson(spec[k], v)) specPatch[k] = v;
  }
  for (const k of Object.keys(spec)) if (!(k in want)) specPatch[k] = null;
  changed.push(...Object.keys(specPatch).map((k) => `spec.${k}`));
  if (changed.length === 0) return { action: 'none' };
  return {
    action: 'patch',
    body: {
      metadata: { resourceVersion: meta.resourceVersion, ...metaPatch },
      ...(Object.keys(specPatch).length > 0 ? { spec: specPatch } : {}),
    },
    changed,
  };
}

/** A merge patch turning `have` into `want` (null removes a key); undefined when they are equal. */
function mapPatch(have: Record<string, string>, want: Record<string, string>): Json | undefined {
  const patch: Json = {};
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) patch[k] = v;
  for (const k of Object.keys(have)) if (!(k in want)) patch[k] = null;
  return Object.keys(patch).length > 0 ? patch : undefined;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => sameJson(a[k], b[k]));
  }
  return a === b;
}

/**
 * `KEY=VALUE` arguments (of `flag`) as labels; every problem names the flag and the argument. The managed-by
 * label is reserved; a key given twice with different values is refused.
 */
export function parseLabelArgs(
  args: readonly string[],
  flag: string,
): { labels: Record<string, string> } | { errors: string[] } {
  const labels: Record<string, string> = {};
  const errors: string[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const at = `${flag} ${JSON.stringify(arg)}`;
    if (eq < 0) {
      errors.push(`${at}: must be KEY=VALUE`);
      continue;
    }
    const key = arg.slice(0, eq);
    const value = arg.slice(eq + 1);
    const before = errors.length;
    if (!isLabelKey(key)) errors.push(`${at}: key ${JSON.stringify(key)} is not a valid label key`);
    else if (key === MANAGED_BY_LABEL) errors.push(`${at}: key ${key} is reserved (the agent sets it)`);
    if (!isLabelValue(value)) errors.push(`${at}: value ${JSON.stringify(value)} is not a valid label value`);
    if (errors.length > before) continue;
    if (key in labels && labels[key] !== value)
      errors.push(
        `${at}: key ${key} is given twice (${JSON.stringify(labels[key])} and ${JSON.stringify(value)})`,
      );
    labels[key] = value;
  }
  return errors.length > 0 ? { errors } : { labels };
}

/** Where the host endpoint controller stands (the agent's /status and metrics). */
export interface HostEndpointStatus {
  readonly name: string;
  /** in-place: exists as it should; waiting / foreign: see reason; failing: the last run failed (retrying). */
  readonly state: 'starting' | 'in-place' | 'waiting' | 'foreign' | 'failing';
  readonly reason?: string;
  /** Writes made since start: creates and patches. */
  readonly creates: number;
  readonly patches: number;
}

/** The controller as the agent starts and stops it (built by src/datastore/kube-host-endpoint-controller.ts). */
export interface HostEndpointController {
  /** Starts watching; `onStatus` hears every change of status(). Never throws: failures are retried. */
  start(onStatus?: (s: HostEndpointStatus) => void): void;
  status(): HostEndpointStatus;
  stop(): Promise<void>;
}
