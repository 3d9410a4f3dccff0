// The pod server's config file: which pod it is, where its control socket lives, which ports it serves.
// Pure: parses text into a value or throws PodServerConfigError listing every problem at once.

import { tryParseIp } from '../model/cidr.js';
import { PROTOCOLS, type Protocol } from '../model/k8s.js';

export { PROTOCOLS, type Protocol };

export interface PortSpec {
  readonly name?: string;
  readonly port: number;
  readonly protocol: Protocol;
}

export interface PodServerConfig {
  /**
   * "<namespace>/<pod>" (or a lab host's name, "node-1", "outside"): what the server answers on every port, and
   * what probers expect.
   */
  readonly id: string;
  /** Absolute path of the Unix control socket. */
  readonly controlSocket: string;
  readonly ports: readonly PortSpec[];
  /**
   * Serve TCP and UDP ports on each of these addresses rather than on the wildcard: a host with several addresses
   * (the outside host) then answers UDP from the address it was sent to, which a connected prober requires.
   */
  readonly addresses?: readonly string[];
}

export class PodServerConfigError extends Error {
  override readonly name = 'PodServerConfigError';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`invalid pod server config ${source}: ${problems.join('; ')}`, options);
  }
}

/**
 * Kubernetes names: a DNS label namespace and a DNS subdomain pod name (upper case tolerated), or a host's name
 * alone (a DNS subdomain).
 */
const ID_RE =
  /^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const ID_PROBLEM = 'is not "<namespace>/<pod>" or a host name (letters, digits, "-" and "." only)';
/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

export function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

export function isProtocol(v: unknown): v is Protocol {
  return typeof v === 'string' && (PROTOCOLS as readonly string[]).includes(v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as it appears in error messages: JSON, shortened; "(missing)" for undefined. */
export function show(v: unknown): string {
  if (v === undefined) return '(missing)';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function checkId(v: unknown, problems: string[]): void {
  if (typeof v !== 'string' || !ID_RE.test(v)) {
    problems.push(`id: ${show(v)} ${ID_PROBLEM}`);
  }
}

function checkSocket(v: unknown, problems: string[]): void {
  if (typeof v !== 'string' || !v.startsWith('/')) {
    problems.push(`controlSocket: ${show(v)} is not an absolute path`);
  } else if (new TextEncoder().encode(v).length > MAX_SOCKET_PATH_BYTES) {
    problems.push(
      `controlSocket: ${show(v)} is longer than ${MAX_SOCKET_PATH_BYTES} bytes (a Unix socket limit)`,
    );
  }
}

function parsePort(v: unknown, at: string, problems: string[]): PortSpec | undefined {
  if (!isRecord(v)) {
    problems.push(`${at}: ${show(v)} is not an object`);
    return undefined;
  }
  const before = problems.length;
  const protocol = v['protocol'] ?? 'TCP';
  if (!isPort(v['port'])) problems.push(`${at}.port: ${show(v['port'])} is not an integer in 1..65535`);
  if (!isProtocol(protocol))
    problems.push(`${at}.protocol: ${show(protocol)} is not one of ${PROTOCOLS.join(', ')}`);
  if (v['name'] !== undefined && typeof v['name'] !== 'string') {
    problems.push(`${at}.name: ${show(v['name'])} is not a string`);
  }
  if (problems.length > before) return undefined;
  const port = v['port'] as number;
  const name = v['name'] as string | undefined;
  return name === undefined
    ? { port, protocol: protocol as Protocol }
    : { name, port, protocol: protocol as Protocol };
}

function parsePorts(v: unknown, problems: string[]): PortSpec[] {
  if (!Array.isArray(v)) {
    problems.push(`ports: ${show(v)} is not an array`);
    return [];
  }
  const out: PortSpec[] = [];
  const seen = new Map<string, number>();
  v.forEach((item, i) => {
    const spec = parsePort(item, `ports[${i}]`, problems);
    if (!spec) return;
    const k = `${spec.port}/${spec.protocol}`;
    const first = seen.get(k);
    if (first !== undefined) problems.push(`ports[${i}]: ${k} repeats ports[${first}]`);
    else seen.set(k, i);
    out.push(spec);
  });
  return out;
}

function parseAddresses(v: unknown, problems: string[]): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) {
    problems.push(`addresses: ${show(v)} is not a non-empty array`);
    return undefined;
  }
  v.forEach((a, i) => {
    if (typeof a !== 'string' || !tryParseIp(a)) problems.push(`addresses[${i}]: ${show(a)} is not an IP`);
  });
  return v as string[];
}

/** Parses the JSON text of a config file; `source` (usually the path) names it in errors. */
export function parsePodServerConfig(text: string, source: string): PodServerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PodServerConfigError(source, [`not JSON: ${(err as Error).message}`], { cause: err });
  }
  if (!isRecord(raw)) throw new PodServerConfigError(source, [`${show(raw)} is not an object`]);
  const problems: string[] = [];
  checkId(raw['id'], problems);
  checkSocket(raw['controlSocket'], problems);
  const ports = parsePorts(raw['ports'], problems);
  const addresses = parseAddresses(raw['addresses'], problems);
  if (problems.length > 0) throw new PodServerConfigError(source, problems);
  const base = { id: raw['id'] as string, controlSocket: raw['controlSocket'] as string, ports };
  return addresses ? { ...base, addresses } : base;
}
