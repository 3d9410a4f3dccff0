// Calico's HostEndpoint (palisade.dev/v1, crd.projectcalico.org/v1, projectcalico.org/v3): a decoded manifest →
// HostEndpoint, validated as Calico's CRD schema, CEL rules and Go validator do. Pure and total: it never throws;
// every problem names the field path and the value, all are reported at once, and a host endpoint with problems
// keeps what parsed (HostEndpoint.problems describes the fail-closed shape).
//
// Sources (projectcalico/calico): api/pkg/apis/projectcalico/v3/hostendpoint.go (fields, MaxLength, set lists,
// the CEL rules "node must be specified" and "at least one of interfaceName or expectedIPs must be specified"),
// libcalico-go/lib/validator/v3/validator.go (validateInterface: "*" or 1-15 of [a-zA-Z0-9_.-]; `name` on node and
// profiles; `ip` on expectedIPs; validateEndpointPort: a protocol that has ports; `portName` on port names).
import { CidrError, formatIp, parseIp } from './cidr.js';
import { asObject, parseList, present } from './cluster-network-policy-parse-fields.js';
import type { CalicoCompatGroup } from './global-network-policy.js';
import { supportsPorts } from './global-network-policy.js';
import {
  duplicateProblems,
  parseCalicoGroup,
  parseCalicoProtocol,
} from './global-network-policy-parse-fields.js';
import type { HostEndpoint, HostEndpointPort } from './host-endpoint.js';
import {
  isDnsSubdomain,
  isObject,
  labelsProblems,
  type Protocol,
  portNameProblems,
  showValue,
  unknownFieldProblems,
} from './k8s.js';

const SPEC_FIELDS = ['node', 'interfaceName', 'expectedIPs', 'profiles', 'ports'];
/** An interface name as Calico accepts it (and the agent's flags): 1-15 of a-z A-Z 0-9 _ . - */
export const INTERFACE_NAME = /^[a-zA-Z0-9_.-]{1,15}$/;
const PROTOCOL_OF: Readonly<Record<string, Protocol>> = {
  TCP: 'TCP',
  UDP: 'UDP',
  SCTP: 'SCTP',
  6: 'TCP',
  17: 'UDP',
  132: 'SCTP',
};

type SpecParts = Pick<HostEndpoint, 'node' | 'interfaceName' | 'expectedIPs' | 'profiles' | 'ports'>;
const NO_SPEC: SpecParts = { node: '', expectedIPs: [], profiles: [], ports: [] };

function parseNode(raw: unknown, problems: string[]): string {
  if (!present(raw) || raw === '') problems.push('spec.node: required');
  else if (typeof raw !== 'string' || !isDnsSubdomain(raw)) {
    problems.push(`spec.node: ${showValue(raw)} is not a valid node name (a DNS subdomain)`);
  }
  return typeof raw === 'string' ? raw : '';
}

function parseInterfaceName(raw: unknown, problems: string[]): string | undefined {
  if (!present(raw) || raw === '') return undefined;
  if (raw === '*' || (typeof raw === 'string' && INTERFACE_NAME.test(raw))) return raw;
  problems.push(
    `spec.interfaceName: ${showValue(raw)} must be "*" or an interface name (1-15 of a-z A-Z 0-9 _ . -)`,
  );
  return undefined;
}

function parseAddress(raw: unknown, path: string, problems: string[]): string | undefined {
  try {
    if (typeof raw === 'string') return formatIp(parseIp(raw));
  } catch (err) {
    if (!(err instanceof CidrError)) throw err;
  }
  problems.push(`${path}: ${showValue(raw)} is not an IP address`);
  return undefined;
}

/** A set-typed list of strings, each checked by `item`; every entry that failed is dropped. */
function parseSet<T>(
  raw: unknown,
  path: string,
  problems: string[],
  item: (r: unknown, p: string, out: string[]) => T | undefined,
): T[] {
  const out = parseList(raw, path, problems, { min: 0, max: Number.POSITIVE_INFINITY }, item);
  if (Array.isArray(raw)) problems.push(...duplicateProblems(raw, path));
  return out;
}

function parseProfile(raw: unknown, path: string, problems: string[]): string | undefined {
  if (typeof raw === 'string' && isDnsSubdomain(raw)) return raw;
  problems.push(`${path}: ${showValue(raw)} is not a valid profile name (a DNS subdomain)`);
  return undefined;
}

/** spec.ports[i]: {name, port, protocol}, all required (EndpointPort). */
function parsePort(raw: unknown, path: string, problems: string[]): HostEndpointPort | undefined {
  const r = asObject(raw, path, problems);
  if (!r) return undefined;
  const before = problems.length;
  problems.push(...unknownFieldProblems(r, ['name', 'port', 'protocol'], path));
  const { name, port, protocol } = r;
  const why = typeof name === 'string' ? portNameProblems(name) : ['must be a string'];
  if (!present(name)) problems.push(`${path}.name: required`);
  else if (why.length > 0)
    problems.push(`${path}.name: ${showValue(name)} is not a valid port name: ${why.join(', ')}`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    problems.push(`${path}.port: ${showValue(port)} must be an integer from 1 to 65535`);
  }
  const p = present(protocol) ? parseCalicoProtocol(protocol, `${path}.protocol`, problems) : undefined;
  if (!present(protocol)) problems.push(`${path}.protocol: required`);
  else if (p && !supportsPorts(p))
    problems.push(`${path}.protocol: ${showValue(protocol)} must be TCP, UDP or SCTP`);
  const proto = p && PROTOCOL_OF[p.kind === 'named' ? p.name : p.number];
  if (problems.length > before || !proto) return undefined;
  return { name: name as string, port: port as number, protocol: proto };
}

function parseSpec(raw: unknown, problems: string[]): SpecParts {
  if (!present(raw)) problems.push('spec: required');
  const spec = present(raw) ? asObject(raw, 'spec', problems) : undefined;
  if (!spec) return NO_SPEC;
  problems.push(...unknownFieldProblems(spec, SPEC_FIELDS, 'spec'));
  const node = parseNode(spec.node, problems);
  const interfaceName = parseInterfaceName(spec.interfaceName, problems);
  const expectedIPs = parseSet(spec.expectedIPs, 'spec.expectedIPs', problems, parseAddress);
  const noInterface = !present(spec.interfaceName) || spec.interfaceName === '';
  if (noInterface && !(Array.isArray(spec.expectedIPs) && spec.expectedIPs.length > 0)) {
    problems.push(`spec: ${showValue(spec)} must set interfaceName or expectedIPs`);
  }
  const before = problems.length;
  const profiles = parseSet(spec.profiles, 'spec.profiles', problems, parseProfile);
  return {
    node,
    ...(interfaceName !== undefined && { interfaceName }),
    expectedIPs,
    // Broken profiles read as none (so an endpoint no policy selects denies): see HostEndpoint.problems.
    profiles: problems.length > before ? [] : profiles,
    ports: parseList(
      spec.ports,
      'spec.ports',
      problems,
      { min: 0, max: Number.POSITIVE_INFINITY },
      parsePort,
    ),
  };
}

/** metadata: the name (a DNS subdomain) and the labels, which read as none when any is broken. */
function parseMetadata(raw: unknown, problems: string[]): Pick<HostEndpoint, 'name' | 'labels'> {
  if (!isObject(raw)) {
    problems.push(`metadata: required, got ${showValue(raw)}`);
    return { name: '', labels: {} };
  }
  const { name, labels } = raw;
  if (typeof name !== 'string' || !isDnsSubdomain(name)) {
    problems.push(`metadata.name: ${showValue(name)} is not a valid HostEndpoint name (a DNS subdomain)`);
  }
  const broken = labelsProblems(labels, 'metadata.labels');
  problems.push(...broken);
  const kept = broken.length === 0 && isObject(labels) ? { ...(labels as Record<string, string>) } : {};
  return { name: typeof name === 'string' ? name : '', labels: kept };
}

/** Validates one decoded HostEndpoint document. Never throws. */
export function parseHostEndpoint(doc: unknown): HostEndpoint {
  const problems: string[] = [];
  let group: CalicoCompatGroup = 'palisade.dev';
  let meta: Pick<HostEndpoint, 'name' | 'labels'> = { name: '', labels: {} };
  let spec = NO_SPEC;
  if (!isObject(doc)) {
    problems.push(`document: must be an object, got ${showValue(doc)}`);
  } else {
    group = parseCalicoGroup(doc.apiVersion, problems);
    if (doc.kind !== 'HostEndpoint') problems.push(`kind: ${showValue(doc.kind)} must be "HostEndpoint"`);
    // status: what the agents report (conditions); never read as policy.
    problems.push(...unknownFieldProblems(doc, ['apiVersion', 'kind', 'metadata', 'spec', 'status'], ''));
    meta = parseMetadata(doc.metadata, problems);
    spec = parseSpec(doc.spec, problems);
  }
  return { kind: 'HostEndpoint', group, ...meta, ...spec, problems };
}
