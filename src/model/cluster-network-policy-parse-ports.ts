// The `protocols` entries of a ClusterNetworkPolicy rule: tcp/udp/sctp with a destination port number or range,
// or a destinationNamedPort, validated as the CRD's schema and CEL rule have the API server do. Pure and total.
import type { ClusterPolicyProtocol } from './cluster-network-policy.js';
import { asObject, exactlyOne, present } from './cluster-network-policy-parse-fields.js';
import { type Protocol, portNameProblems, showValue, unknownFieldProblems } from './k8s.js';

export const PROTOCOL_FIELDS = ['tcp', 'udp', 'sctp', 'destinationNamedPort'] as const;
const PROTOCOL_OF: Readonly<Record<string, Protocol>> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' };

const isPortNumber = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;

function portNumber(raw: unknown, path: string, problems: string[]): number | undefined {
  if (!present(raw)) problems.push(`${path}: required`);
  else if (!isPortNumber(raw)) problems.push(`${path}: ${showValue(raw)} must be an integer from 1 to 65535`);
  else return raw;
  return undefined;
}

/** tcp/udp/sctp: {destinationPort: {number} | {range: {start, end}}}, start < end (the CRD's CEL rule). */
function parsePortOf(
  protocol: Protocol,
  raw: unknown,
  path: string,
  problems: string[],
): ClusterPolicyProtocol | undefined {
  const r = asObject(raw, path, problems);
  if (!r) return undefined;
  problems.push(...unknownFieldProblems(r, ['destinationPort'], path));
  const dpath = `${path}.destinationPort`;
  if (!present(r.destinationPort)) {
    problems.push(`${dpath}: required`);
    return undefined;
  }
  const d = asObject(r.destinationPort, dpath, problems);
  if (!d) return undefined;
  problems.push(...unknownFieldProblems(d, ['number', 'range'], dpath));
  const which = exactlyOne(d, ['number', 'range'], dpath, problems);
  const port = present(d.number) ? portNumber(d.number, `${dpath}.number`, problems) : undefined;
  const range = present(d.range) ? asObject(d.range, `${dpath}.range`, problems) : undefined;
  if (!range) return which === 'number' && port !== undefined ? { kind: 'port', protocol, port } : undefined;
  problems.push(...unknownFieldProblems(range, ['start', 'end'], `${dpath}.range`));
  const start = portNumber(range.start, `${dpath}.range.start`, problems);
  const end = portNumber(range.end, `${dpath}.range.end`, problems);
  if (start === undefined || end === undefined || which !== 'range') return undefined;
  if (start < end) return { kind: 'portRange', protocol, start, end };
  problems.push(`${dpath}.range.end: ${end} must be greater than start (${start})`);
  return undefined;
}

/** One entry of `protocols`: exactly one of tcp, udp, sctp, destinationNamedPort. */
export function parseProtocol(
  raw: unknown,
  path: string,
  problems: string[],
): ClusterPolicyProtocol | undefined {
  const r = asObject(raw, path, problems);
  if (!r) return undefined;
  const before = problems.length;
  problems.push(...unknownFieldProblems(r, PROTOCOL_FIELDS, path));
  const chosen = exactlyOne(r, PROTOCOL_FIELDS, path, problems);
  let out: ClusterPolicyProtocol | undefined;
  for (const f of PROTOCOL_FIELDS) {
    if (!present(r[f])) continue;
    const fpath = `${path}.${f}`;
    const protocol = PROTOCOL_OF[f];
    const v = protocol ? parsePortOf(protocol, r[f], fpath, problems) : parseNamedPort(r[f], fpath, problems);
    if (f === chosen) out = v;
  }
  return problems.length > before ? undefined : out;
}

/**
 * The CRD takes any string; a name that is not an IANA_SVC_NAME can name no container port (the API server
 * rejects such port names on pods), so it is reported here rather than left to match nothing.
 */
function parseNamedPort(raw: unknown, path: string, problems: string[]): ClusterPolicyProtocol | undefined {
  if (typeof raw !== 'string') {
    problems.push(`${path}: ${showValue(raw)} must be a port name`);
    return undefined;
  }
  const why = portNameProblems(raw);
  if (why.length === 0) return { kind: 'namedPort', name: raw };
  problems.push(`${path}: ${showValue(raw)} is not a valid port name: ${why.join(', ')}`);
  return undefined;
}
