// The Kubernetes objects the lab and (later) the agent read: Namespace and Pod, validated with field paths.
// Pure: parsing YAML text is the caller's job (src/model/manifests.ts); this takes plain decoded objects.
import { formatCidr, parseCidr } from './cidr.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];
/** IANA protocol numbers, as IP headers, conntrack and nftables carry them. */
export const PROTOCOL_NUMBERS: Readonly<Record<Protocol, number>> = { TCP: 6, UDP: 17, SCTP: 132 };

export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol: Protocol;
}

export interface NamespaceObject {
  readonly kind: 'Namespace';
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface PodObject {
  readonly kind: 'Pod';
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly nodeName?: string;
  readonly ports: readonly ContainerPort[];
  /** status.podIPs (or status.podIP): set by the kubelet (in the lab: by the lab) once the pod is wired. */
  readonly ips: readonly string[];
  readonly annotations: Readonly<Record<string, string>>;
  readonly containers: readonly { readonly name: string; readonly ports: readonly ContainerPort[] }[];
  readonly initContainers: readonly { readonly name: string }[];
}

export interface NodeObject {
  readonly kind: 'Node';
  readonly name: string;
  /** metadata.labels (a ClusterNetworkPolicy's `nodes` peer selects on them). */
  readonly labels: Readonly<Record<string, string>>;
  /** status.addresses of type InternalIP and ExternalIP. */
  readonly ips: readonly string[];
  /** spec.podCIDRs (else spec.podCIDR), canonical. */
  readonly podCIDRs: readonly string[];
  /** metadata.annotations. */
  readonly annotations: Readonly<Record<string, string>>;
}

export type KubeObject = NamespaceObject | PodObject | NodeObject;

/** A decoded document that is not one of ours (e.g. NetworkPolicy before the agent exists), kept as is. */
export interface OtherObject {
  readonly kind: 'Other';
  readonly apiVersion: string;
  readonly objectKind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
  }
}

// RFC 1123 label (namespaces, port names are IANA_SVC_NAME, checked separately) and subdomain (pod names).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const PORT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Shared field checks for the other model parsers (selector.ts, network-policy-parse.ts).

/** An RFC 1123 label of at most 63 characters (namespace names). */
export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

/** An RFC 1123 subdomain of at most 253 characters (most object names). */
export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

/** A label key: an optional DNS-subdomain prefix (at most 253 chars) and "/", then a name of at most 63. */
export function isLabelKey(k: string): boolean {
  const slash = k.indexOf('/');
  return LABEL_NAME.test(k) && slash <= 253 && k.length - slash - 1 <= 63;
}

/** A label value: empty, or at most 63 alphanumerics, '-', '_', '.', starting and ending alphanumeric. */
export function isLabelValue(v: string): boolean {
  return v.length <= 63 && LABEL_VALUE.test(v);
}

/** Why `name` is not an IANA_SVC_NAME (apimachinery's IsValidPortName); empty when it is one. */
export function portNameProblems(name: string): string[] {
  const out: string[] = [];
  if (name.length > 15) out.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(name)) out.push('must contain only lowercase letters, digits and hyphens');
  if (name.includes('--')) out.push('must not contain consecutive hyphens');
  if (!/[a-z]/.test(name)) out.push('must contain at least one letter (a-z)');
  if (name.startsWith('-') || name.endsWith('-')) out.push('must not begin or end with a hyphen');
  return out;
}

/** A value as it appears in a problem: JSON where possible, shortened; never throws. */
export function showValue(v: unknown): string {
  let text: string;
  try {
    text = typeof v === 'bigint' ? String(v) : (JSON.stringify(v) ?? String(v));
  } catch (_err) {
    // A cycle, or a toJSON that throws: the type tag is all that can be said.
    text = Object.prototype.toString.call(v);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** One problem per key of `obj` that is not in `known` (the API server's strict field validation). */
export function unknownFieldProblems(
  obj: Readonly<Record<string, unknown>>,
  known: readonly string[],
  path: string,
): string[] {
  const out: string[] = [];
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) out.push(`${path ? `${path}.` : ''}${k}: unknown field`);
  }
  return out;
}

export function labelsProblems(labels: unknown, path: string): string[] {
  if (labels === undefined || labels === null) return [];
  if (!isObject(labels)) return [`${path}: must be a map of strings, got ${JSON.stringify(labels)}`];
  const out: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const name = k.includes('/') ? k.slice(k.indexOf('/') + 1) : k;
    if (!LABEL_NAME.test(k) || name.length > 63 || k.length > 317) {
      out.push(`${path}: key ${JSON.stringify(k)} is not a valid label key`);
    }
    if (typeof v !== 'string' || !LABEL_VALUE.test(v) || v.length > 63) {
      out.push(`${path}[${JSON.stringify(k)}]: value ${JSON.stringify(v)} is not a valid label value`);
    }
  }
  return out;
}

function parseMeta(doc: Record<string, unknown>, problems: string[], namespaced: boolean) {
  const meta = doc.metadata;
  if (!isObject(meta)) {
    problems.push(`metadata: required, got ${JSON.stringify(meta)}`);
    return { name: '', namespace: 'default', labels: {}, annotations: {} as Record<string, string> };
  }
  const name = meta.name;
  const nameRe = namespaced ? DNS_SUBDOMAIN : DNS_LABEL;
  if (typeof name !== 'string' || !nameRe.test(name) || name.length > (namespaced ? 253 : 63)) {
    problems.push(
      `metadata.name: ${JSON.stringify(name)} is not a valid ${namespaced ? 'pod' : 'namespace'} name`,
    );
  }
  const namespace = meta.namespace ?? 'default';
  if (namespaced && (typeof namespace !== 'string' || !DNS_LABEL.test(namespace))) {
    problems.push(`metadata.namespace: ${JSON.stringify(namespace)} is not a valid namespace name`);
  }
  problems.push(...labelsProblems(meta.labels, 'metadata.labels'));
  const labels = isObject(meta.labels) ? (meta.labels as Record<string, string>) : {};
  // Every annotation is kept; a value that is not a string is a problem, as the API server says (an unquoted
  // `codesealer.com/dport: 8080` in YAML is a number), never a key silently dropped.
  const annotations: Record<string, string> = {};
  if (isObject(meta.annotations)) {
    for (const [k, v] of Object.entries(meta.annotations)) {
      if (typeof v === 'string') annotations[k] = v;
      else
        problems.push(
          `metadata.annotations[${JSON.stringify(k)}]: ${JSON.stringify(v)} must be a string (quote it)`,
        );
    }
  } else if (meta.annotations !== undefined && meta.annotations !== null) {
    problems.push(`metadata.annotations: ${JSON.stringify(meta.annotations)} must be a map of strings`);
  }
  return { name: String(name ?? ''), namespace: String(namespace), labels: { ...labels }, annotations };
}

function parsePort(p: unknown, path: string, problems: string[]): ContainerPort | undefined {
  if (!isObject(p)) {
    problems.push(`${path}: must be an object, got ${JSON.stringify(p)}`);
    return undefined;
  }
  const port = p.containerPort;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    problems.push(`${path}.containerPort: ${JSON.stringify(port)} must be an integer from 1 to 65535`);
  }
  const protocol = p.protocol ?? 'TCP';
  if (!(PROTOCOLS as readonly unknown[]).includes(protocol)) {
    problems.push(`${path}.protocol: ${JSON.stringify(protocol)} must be one of ${PROTOCOLS.join(', ')}`);
  }
  const name = p.name;
  if (name !== undefined && (typeof name !== 'string' || !PORT_NAME.test(name) || name.length > 15)) {
    problems.push(
      `${path}.name: ${JSON.stringify(name)} is not a valid port name (IANA_SVC_NAME, at most 15 chars)`,
    );
  }
  return {
    name: typeof name === 'string' ? name : undefined,
    containerPort: Number(port),
    protocol: protocol as Protocol,
  };
}

type PodSpecParts = Pick<PodObject, 'nodeName' | 'ports' | 'containers' | 'initContainers'>;

function containerNames(list: unknown): { name: string }[] {
  return Array.isArray(list)
    ? list.flatMap((c) => (isObject(c) && typeof c.name === 'string' ? [{ name: c.name }] : []))
    : [];
}

function parsePodSpec(spec: unknown, problems: string[]): PodSpecParts {
  if (!isObject(spec)) {
    problems.push(`spec: required, got ${JSON.stringify(spec)}`);
    return { ports: [], containers: [], initContainers: [] };
  }
  const nodeName = spec.nodeName;
  if (nodeName !== undefined && (typeof nodeName !== 'string' || !DNS_SUBDOMAIN.test(nodeName))) {
    problems.push(`spec.nodeName: ${JSON.stringify(nodeName)} is not a valid node name`);
  }
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    problems.push(`spec.containers: must list at least one container, got ${JSON.stringify(containers)}`);
    return { ports: [], containers: [], initContainers: [] };
  }
  const ports: ContainerPort[] = [];
  const named: { name: string; ports: ContainerPort[] }[] = [];
  for (const [i, c] of containers.entries()) {
    const path = `spec.containers[${i}]`;
    if (!isObject(c)) {
      problems.push(`${path}: must be an object`);
      continue;
    }
    const list = c.ports ?? [];
    if (!Array.isArray(list)) {
      problems.push(`${path}.ports: must be a list`);
      continue;
    }
    const mine: ContainerPort[] = [];
    for (const [j, p] of list.entries()) {
      const port = parsePort(p, `${path}.ports[${j}]`, problems);
      if (port) mine.push(port);
    }
    ports.push(...mine);
    named.push({ name: typeof c.name === 'string' ? c.name : '', ports: mine });
  }
  const seen = new Set<string>();
  for (const p of ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    if (seen.has(key)) problems.push(`spec.containers: port ${key} is declared twice`);
    seen.add(key);
  }
  return {
    nodeName: typeof nodeName === 'string' ? nodeName : undefined,
    ports,
    containers: named,
    initContainers: containerNames(spec.initContainers),
  };
}

const IP_RE = /^[0-9a-fA-F.:]+$/;

function ipProblem(v: unknown, path: string): string | undefined {
  return typeof v === 'string' && IP_RE.test(v) && (v.includes('.') || v.includes(':'))
    ? undefined
    : `${path}: ${JSON.stringify(v)} is not an IP address`;
}

/** status.podIPs[].ip, else status.podIP; absent status = no addresses yet. */
function parseAddresses(status: unknown, problems: string[]): string[] {
  if (!isObject(status)) return [];
  if (Array.isArray(status.podIPs)) {
    const out: string[] = [];
    status.podIPs.forEach((entry, i) => {
      const ip = isObject(entry) ? entry.ip : undefined;
      const p = ipProblem(ip, `status.podIPs[${i}].ip`);
      if (p) problems.push(p);
      else out.push(ip as string);
    });
    return out;
  }
  if (status.podIP === undefined) return [];
  const p = ipProblem(status.podIP, 'status.podIP');
  if (p) problems.push(p);
  return p ? [] : [status.podIP as string];
}

function parseNodeAddresses(status: unknown, problems: string[]): string[] {
  if (!isObject(status) || !Array.isArray(status.addresses)) return [];
  const out: string[] = [];
  status.addresses.forEach((a, i) => {
    if (!isObject(a) || (a.type !== 'InternalIP' && a.type !== 'ExternalIP')) return;
    const p = ipProblem(a.address, `status.addresses[${i}].address`);
    if (p) problems.push(p);
    else out.push(a.address as string);
  });
  return out;
}

/** spec.podCIDRs, or the older single spec.podCIDR; each must be a CIDR with no host bits. */
function parseNodePodCidrs(spec: unknown, problems: string[]): string[] {
  if (!isObject(spec)) return [];
  const list = Array.isArray(spec.podCIDRs)
    ? spec.podCIDRs
    : spec.podCIDR === undefined
      ? []
      : [spec.podCIDR];
  const field = Array.isArray(spec.podCIDRs) ? 'spec.podCIDRs' : 'spec.podCIDR';
  const out: string[] = [];
  list.forEach((c, i) => {
    try {
      if (typeof c !== 'string') throw new Error('not a string');
      out.push(formatCidr(parseCidr(c, { strict: true })));
    } catch (err) {
      problems.push(
        `${field}${field.endsWith('s') ? `[${i}]` : ''}: ${JSON.stringify(c)} is not a CIDR (${(err as Error).message})`,
      );
    }
  });
  return out;
}

/** Validates one decoded manifest document. Throws ValidationError listing every problem. */
export function parseKubeObject(doc: unknown): KubeObject | OtherObject {
  if (!isObject(doc)) throw new ValidationError([`document must be an object, got ${JSON.stringify(doc)}`]);
  const kind = doc.kind;
  const apiVersion = doc.apiVersion;
  const problems: string[] = [];
  if (kind === 'Namespace' || kind === 'Pod') {
    if (apiVersion !== 'v1')
      problems.push(`apiVersion: ${JSON.stringify(apiVersion)} must be "v1" for ${kind}`);
  }
  if (kind === 'Namespace') {
    const meta = parseMeta(doc, problems, false);
    if (problems.length) throw new ValidationError(problems);
    return { kind, name: meta.name, labels: meta.labels };
  }
  if (kind === 'Pod') {
    const meta = parseMeta(doc, problems, true);
    const spec = parsePodSpec(doc.spec, problems);
    const ips = parseAddresses(doc.status, problems);
    if (problems.length) throw new ValidationError(problems);
    return {
      kind,
      namespace: meta.namespace,
      name: meta.name,
      labels: meta.labels,
      annotations: meta.annotations,
      ...spec,
      ips,
    };
  }
  if (kind === 'Node') {
    if (apiVersion !== 'v1') problems.push(`apiVersion: ${JSON.stringify(apiVersion)} must be "v1" for Node`);
    const meta = parseMeta(doc, problems, false);
    const ips = parseNodeAddresses(doc.status, problems);
    const podCIDRs = parseNodePodCidrs(doc.spec, problems);
    if (problems.length) throw new ValidationError(problems);
    return { kind, name: meta.name, labels: meta.labels, ips, podCIDRs, annotations: meta.annotations };
  }
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') {
    throw new ValidationError([
      `kind and apiVersion: required strings, got ${JSON.stringify({ kind, apiVersion })}`,
    ]);
  }
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  return {
    kind: 'Other',
    apiVersion,
    objectKind: kind,
    namespace: typeof meta.namespace === 'string' ? meta.namespace : undefined,
    name: typeof meta.name === 'string' ? meta.name : '',
    raw: doc,
  };
}

export function podKey(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}
