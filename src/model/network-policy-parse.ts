// networking.k8s.io/v1 NetworkPolicy: a decoded manifest → NetworkPolicy, validated as the API server does
// (k8s.io/kubernetes pkg/apis/networking/validation/validation.go, defaults from pkg/apis/networking/v1/
// defaults.go, strict field validation, the StrictIPCIDRValidation CIDR rules). Pure and total: it never
// throws; every problem names the field and the value, and a policy with problems fails closed (see
// NetworkPolicy.problems).
//
// A null list item decodes as Go decodes it: to the zero value, so `ingress: [null]` is `ingress: [{}]`.
import { type Cidr, CidrError, cidrContains, formatCidr, parseCidr } from './cidr.js';
import {
  isDnsLabel,
  isDnsSubdomain,
  isObject,
  labelsProblems,
  PROTOCOLS,
  portNameProblems,
  showValue,
  unknownFieldProblems,
} from './k8s.js';
import {
  EMPTY_SELECTOR,
  type IpBlock,
  type LabelSelector,
  type NetworkPolicy,
  type PolicyPeer,
  type PolicyPort,
  type PolicyRule,
  type PolicyType,
} from './network-policy.js';
import { parseLabelSelector } from './selector.js';

export const NETWORK_POLICY_API_VERSION = 'networking.k8s.io/v1';
const POLICY_TYPES: readonly PolicyType[] = ['Ingress', 'Egress'];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type ItemParser<T> = (raw: unknown, path: string, problems: string[]) => T | undefined;

const present = (v: unknown): boolean => v !== undefined && v !== null;

/**
 * A document this parser owns: kind NetworkPolicy, unless its apiVersion names another API group (Calico's
 * projectcalico.org/v3 NetworkPolicy is a different resource). A missing or core apiVersion, or an old
 * networking.k8s.io / extensions version, is ours, so parseNetworkPolicy reports it.
 */
export function isNetworkPolicyDoc(doc: unknown): boolean {
  if (!isObject(doc) || doc.kind !== 'NetworkPolicy') return false;
  const apiVersion = doc.apiVersion;
  if (typeof apiVersion !== 'string' || !apiVersion.includes('/')) return true;
  const group = apiVersion.slice(0, apiVersion.indexOf('/'));
  return group === 'networking.k8s.io' || group === 'extensions';
}

function parseList<T>(raw: unknown, path: string, problems: string[], item: ItemParser<T>): T[] {
  if (!present(raw)) return [];
  if (!Array.isArray(raw)) {
    problems.push(`${path}: must be a list, got ${showValue(raw)}`);
    return [];
  }
  const out: T[] = [];
  for (const [i, x] of raw.entries()) {
    const v = item(x, `${path}[${i}]`, problems);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** A CIDR as the API server's strict check reads it (prefix length required), or the problem. */
function readCidr(text: unknown): Cidr | string {
  if (typeof text !== 'string') return `${showValue(text)} must be a CIDR string`;
  const slash = text.indexOf('/');
  if (slash < 0) return `${showValue(text)} is not a CIDR (it has no prefix length)`;
  if (/^0\d/.test(text.slice(slash + 1)))
    return `${showValue(text)} must not have leading 0s in the prefix length`;
  let cidr: Cidr;
  try {
    cidr = parseCidr(text, { strict: true });
  } catch (err) {
    if (err instanceof CidrError) return err.message;
    throw err;
  }
  if (cidr.family === 6 && cidr.network >> 32n === 0xffffn) {
    return `${showValue(text)} must not be an IPv4-mapped IPv6 address`;
  }
  return cidr;
}

/** Same family, inside `outer` and strictly longer: ValidateIPBlock's "strict subset of cidr". */
function strictlyWithin(inner: Cidr, outer: Cidr): boolean {
  return (
    inner.family === outer.family &&
    inner.prefix > outer.prefix &&
    cidrContains(outer, { family: inner.family, value: inner.network })
  );
}

function exceptParser(cidr: Cidr | undefined): ItemParser<Cidr> {
  return (text, path, problems) => {
    const c = readCidr(text);
    if (typeof c === 'string') {
      problems.push(`${path}: ${c}`);
      return undefined;
    }
    if (cidr && !strictlyWithin(c, cidr)) {
      problems.push(`${path}: ${showValue(text)} must be a strict subset of cidr "${formatCidr(cidr)}"`);
      return undefined;
    }
    return c;
  };
}

function parseIpBlock(raw: unknown, path: string, problems: string[]): IpBlock | undefined {
  if (!isObject(raw)) {
    problems.push(`${path}: must be an object with cidr, got ${showValue(raw)}`);
    return undefined;
  }
  const before = problems.length;
  problems.push(...unknownFieldProblems(raw, ['cidr', 'except'], path));
  let cidr: Cidr | undefined;
  if (!present(raw.cidr) || raw.cidr === '') {
    problems.push(`${path}.cidr: required`);
  } else {
    const c = readCidr(raw.cidr);
    if (typeof c === 'string') problems.push(`${path}.cidr: ${c}`);
    else cidr = c;
  }
  const except = parseList(raw.except, `${path}.except`, problems, exceptParser(cidr));
  if (problems.length > before || !cidr) return undefined;
  return { cidr: formatCidr(cidr), except: except.map(formatCidr) };
}

function parsePeer(raw: unknown, path: string, problems: string[]): PolicyPeer | undefined {
  const r = raw === null ? {} : raw;
  if (!isObject(r)) {
    problems.push(`${path}: must be an object, got ${showValue(raw)}`);
    return undefined;
  }
  const before = problems.length;
  problems.push(...unknownFieldProblems(r, ['podSelector', 'namespaceSelector', 'ipBlock'], path));
  const peer: Mutable<PolicyPeer> = {};
  const podSelector = parseLabelSelector(r.podSelector, `${path}.podSelector`, problems);
  const namespaceSelector = parseLabelSelector(r.namespaceSelector, `${path}.namespaceSelector`, problems);
  const ipBlock = present(r.ipBlock) ? parseIpBlock(r.ipBlock, `${path}.ipBlock`, problems) : undefined;
  const selectors = [r.podSelector, r.namespaceSelector].filter(present).length;
  if (!present(r.ipBlock) && selectors === 0) {
    problems.push(
      `${path}: ${showValue(raw)} must specify a peer (podSelector, namespaceSelector or ipBlock)`,
    );
  } else if (present(r.ipBlock) && selectors > 0) {
    problems.push(
      `${path}: may not specify both ipBlock and another peer (podSelector or namespaceSelector)`,
    );
  }
  if (problems.length > before) return undefined;
  if (podSelector) peer.podSelector = podSelector;
  if (namespaceSelector) peer.namespaceSelector = namespaceSelector;
  if (ipBlock) peer.ipBlock = ipBlock;
  return peer;
}

function isPortNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

function parsePortValue(v: unknown, path: string, problems: string[]): number | string | undefined {
  if (!present(v)) return undefined;
  if (typeof v === 'string') {
    const why = portNameProblems(v);
    if (why.length === 0) return v;
    problems.push(`${path}: ${showValue(v)} is not a valid port name: ${why.join(', ')}`);
  } else if (typeof v === 'number') {
    if (isPortNumber(v)) return v;
    problems.push(`${path}: ${showValue(v)} must be an integer from 1 to 65535`);
  } else {
    problems.push(`${path}: ${showValue(v)} must be a port number or a port name`);
  }
  return undefined;
}

function checkEndPort(endPort: unknown, port: unknown, path: string, problems: string[]): void {
  const shown = showValue(endPort);
  if (!present(port)) problems.push(`${path}: ${shown} may not be specified when port is not specified`);
  else if (typeof port === 'string')
    problems.push(`${path}: ${shown} may not be specified when port is a name`);
  else if (!isPortNumber(endPort)) problems.push(`${path}: ${shown} must be an integer from 1 to 65535`);
  else if (isPortNumber(port) && endPort < port) {
    problems.push(`${path}: ${shown} must be greater than or equal to port (${port})`);
  }
}

function parsePort(raw: unknown, path: string, problems: string[]): PolicyPort | undefined {
  const r = raw === null ? {} : raw;
  if (!isObject(r)) {
    problems.push(`${path}: must be an object, got ${showValue(raw)}`);
    return undefined;
  }
  const before = problems.length;
  problems.push(...unknownFieldProblems(r, ['protocol', 'port', 'endPort'], path));
  const protocol = PROTOCOLS.find((p) => p === (r.protocol ?? 'TCP'));
  if (!protocol) {
    problems.push(`${path}.protocol: ${showValue(r.protocol)} must be one of ${PROTOCOLS.join(', ')}`);
  }
  const port = parsePortValue(r.port, `${path}.port`, problems);
  if (present(r.endPort)) checkEndPort(r.endPort, r.port, `${path}.endPort`, problems);
  if (problems.length > before || !protocol) return undefined;
  const out: Mutable<PolicyPort> = { protocol };
  if (port !== undefined) out.port = port;
  if (isPortNumber(r.endPort)) out.endPort = r.endPort;
  return out;
}

function ruleParser(peerField: 'from' | 'to'): ItemParser<PolicyRule> {
  return (raw, path, problems) => {
    const r = raw === null ? {} : raw;
    if (!isObject(r)) {
      problems.push(`${path}: must be an object, got ${showValue(raw)}`);
      return undefined;
    }
    problems.push(...unknownFieldProblems(r, [peerField, 'ports'], path));
    const peers = parseList(r[peerField], `${path}.${peerField}`, problems, parsePeer);
    const ports = parseList(r.ports, `${path}.ports`, problems, parsePort);
    return { peers, ports };
  };
}

/**
 * Explicit policyTypes, or the API server's default (SetDefaults_NetworkPolicy in
 * pkg/apis/networking/v1/defaults.go): when policyTypes is absent or empty, ["Ingress"], plus "Egress" when
 * len(spec.egress) != 0, i.e. the egress list has at least one rule (`egress: []` infers Ingress only).
 * Undefined when they cannot be known (invalid, or an egress field that is not a list).
 */
function parsePolicyTypes(raw: unknown, egress: unknown, problems: string[]): PolicyType[] | undefined {
  const path = 'spec.policyTypes';
  if (!present(raw) || (Array.isArray(raw) && raw.length === 0)) {
    if (present(egress) && !Array.isArray(egress)) return undefined;
    return Array.isArray(egress) && egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  }
  if (!Array.isArray(raw)) {
    problems.push(`${path}: must be a list of Ingress, Egress, got ${showValue(raw)}`);
    return undefined;
  }
  const before = problems.length;
  const out: PolicyType[] = [];
  for (const [i, t] of raw.entries()) {
    const type = POLICY_TYPES.find((p) => p === t);
    if (!type) problems.push(`${path}[${i}]: ${showValue(t)} must be one of ${POLICY_TYPES.join(', ')}`);
    else if (out.includes(type)) problems.push(`${path}[${i}]: ${showValue(t)} is listed twice`);
    else out.push(type);
  }
  return problems.length > before ? undefined : out;
}

interface ParsedSpec {
  podSelector: LabelSelector;
  policyTypes?: PolicyType[];
  ingress: PolicyRule[];
  egress: PolicyRule[];
}

function parseSpec(raw: unknown, problems: string[]): ParsedSpec {
  // spec and spec.podSelector are optional: absent means the empty spec (Ingress isolation of every pod).
  const spec = raw ?? {};
  if (!isObject(spec)) {
    problems.push(`spec: must be an object, got ${showValue(raw)}`);
    return { podSelector: EMPTY_SELECTOR, ingress: [], egress: [] };
  }
  problems.push(...unknownFieldProblems(spec, ['podSelector', 'policyTypes', 'ingress', 'egress'], 'spec'));
  return {
    // Absent and broken both end as EMPTY_SELECTOR: absent by definition, broken by failing closed.
    podSelector: parseLabelSelector(spec.podSelector, 'spec.podSelector', problems) ?? EMPTY_SELECTOR,
    policyTypes: parsePolicyTypes(spec.policyTypes, spec.egress, problems),
    ingress: parseList(spec.ingress, 'spec.ingress', problems, ruleParser('from')),
    egress: parseList(spec.egress, 'spec.egress', problems, ruleParser('to')),
  };
}

function parseMetadata(raw: unknown, problems: string[]): { namespace: string; name: string } {
  if (!isObject(raw)) {
    problems.push(`metadata: required, got ${showValue(raw)}`);
    return { namespace: 'default', name: '' };
  }
  const { name } = raw;
  if (typeof name !== 'string' || !isDnsSubdomain(name)) {
    problems.push(`metadata.name: ${showValue(name)} is not a valid NetworkPolicy name (a DNS subdomain)`);
  }
  const namespace = raw.namespace ?? 'default';
  if (typeof namespace !== 'string' || !isDnsLabel(namespace)) {
    problems.push(`metadata.namespace: ${showValue(namespace)} is not a valid namespace name`);
  }
  problems.push(...labelsProblems(raw.labels, 'metadata.labels'));
  // A namespace that is not even a string matches no namespace rather than defaulting to one.
  return {
    namespace: typeof namespace === 'string' ? namespace : '',
    name: typeof name === 'string' ? name : '',
  };
}

/**
 * Validates one decoded NetworkPolicy document. Never throws. Without problems: the parsed rules, ports'
 * protocol defaulted to TCP, ipBlock CIDRs in canonical text. With problems, fail-closed: the podSelector if
 * it parsed (else EMPTY_SELECTOR, the whole namespace), the policyTypes if they parsed (else both), no rules.
 */
export function parseNetworkPolicy(doc: unknown): NetworkPolicy {
  const problems: string[] = [];
  let meta = { namespace: 'default', name: '' };
  let spec: ParsedSpec = { podSelector: EMPTY_SELECTOR, ingress: [], egress: [] };
  if (!isObject(doc)) {
    problems.push(`document: must be an object, got ${showValue(doc)}`);
  } else {
    if (doc.kind !== 'NetworkPolicy') problems.push(`kind: ${showValue(doc.kind)} must be "NetworkPolicy"`);
    if (doc.apiVersion !== NETWORK_POLICY_API_VERSION) {
      problems.push(`apiVersion: ${showValue(doc.apiVersion)} must be "${NETWORK_POLICY_API_VERSION}"`);
    }
    // status: tombstoned upstream; older servers wrote it, so it is accepted and ignored.
    problems.push(...unknownFieldProblems(doc, ['apiVersion', 'kind', 'metadata', 'spec', 'status'], ''));
    meta = parseMetadata(doc.metadata, problems);
    spec = parseSpec(doc.spec, problems);
  }
  const failed = problems.length > 0;
  return {
    kind: 'NetworkPolicy',
    namespace: meta.namespace,
    name: meta.name,
    podSelector: spec.podSelector,
    policyTypes: spec.policyTypes ?? POLICY_TYPES,
    ingress: failed ? [] : spec.ingress,
    egress: failed ? [] : spec.egress,
    problems,
  };
}
