// The pod server's wire formats, shared by the server and the lab's probe client. Pure.
//   control socket: one JSON request per line, one JSON answer line each (status | probe | shutdown)
//   TCP:  the server writes "<id>\n" to every connection and ends it
//   UDP:  "probe <nonce>" is answered with "<id> <nonce>" to the sender
import { tryParseIp } from '../model/cidr.js';
import { isPort, isProtocol, PROTOCOLS, type Protocol, show } from './pod-server-config.js';

export interface ProbeTarget {
  /** "<namespace>/<pod>": the key of the result and the id the target must answer with (unless anyPeer). */
  readonly key: string;
  readonly ip: string;
  readonly port: number;
  readonly protocol: Protocol;
  /** Local address to send from (one of the prober's own); the kernel's choice when absent. */
  readonly source?: string;
  /** Any server's answer counts (a NodePort, a node address): `peer` says whose it was. */
  readonly anyPeer?: boolean;
}

export interface ProbeResult {
  readonly ok: boolean;
  /** connected | replied | refused | timeout | unreachable | reset | no-answer | wrong-peer:<id> | ... */
  readonly reason: string;
  readonly ms: number;
  /** The id the server answered with, when one answered. */
  readonly peer?: string;
}

export interface PortStatus {
  readonly port: number;
  readonly protocol: Protocol;
  readonly name?: string;
  readonly listening: boolean;
  readonly error?: string;
}

export interface PodStatus {
  readonly id: string;
  readonly pid: number;
  readonly ports: readonly PortStatus[];
}

export interface ProbeAnswer {
  readonly results: Record<string, ProbeResult>;
}

export type ControlRequest =
  | { readonly op: 'status' }
  | { readonly op: 'shutdown' }
  | { readonly op: 'probe'; readonly timeoutMs: number; readonly targets: readonly ProbeTarget[] };

export const SCTP_UNSUPPORTED = 'sctp not supported by the kernel';
export const DEFAULT_PROBE_TIMEOUT_MS = 1000;
export const MAX_PROBE_TIMEOUT_MS = 60_000;
export const MAX_PROBE_TARGETS = 10_000;
/** Longest control request line the server buffers. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export class ControlRequestError extends Error {
  override readonly name = 'ControlRequestError';
}

function parseTarget(v: unknown, at: string, problems: string[]): ProbeTarget | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problems.push(`${at}: ${show(v)} is not an object`);
    return undefined;
  }
  const t = v as Record<string, unknown>;
  const before = problems.length;
  if (typeof t['key'] !== 'string' || t['key'] === '')
    problems.push(`${at}.key: ${show(t['key'])} is not a non-empty string`);
  if (typeof t['ip'] !== 'string' || !tryParseIp(t['ip']))
    problems.push(`${at}.ip: ${show(t['ip'])} is not an IP`);
  if (!isPort(t['port'])) problems.push(`${at}.port: ${show(t['port'])} is not an integer in 1..65535`);
  if (!isProtocol(t['protocol'])) {
    problems.push(`${at}.protocol: ${show(t['protocol'])} is not one of ${PROTOCOLS.join(', ')}`);
  }
  const source = t['source'];
  if (source !== undefined && (typeof source !== 'string' || !tryParseIp(source)))
    problems.push(`${at}.source: ${show(source)} is not an IP`);
  if (t['anyPeer'] !== undefined && typeof t['anyPeer'] !== 'boolean')
    problems.push(`${at}.anyPeer: ${show(t['anyPeer'])} is not a boolean`);
  if (problems.length > before) return undefined;
  return {
    key: t['key'] as string,
    ip: t['ip'] as string,
    port: t['port'] as number,
    protocol: t['protocol'] as Protocol,
    ...(typeof source === 'string' ? { source } : {}),
    ...(t['anyPeer'] === true ? { anyPeer: true } : {}),
  };
}

function parseProbe(req: Record<string, unknown>): ControlRequest {
  const problems: string[] = [];
  const timeoutMs = req['timeoutMs'] ?? DEFAULT_PROBE_TIMEOUT_MS;
  if (
    typeof timeoutMs !== 'number' ||
    !Number.isInteger(timeoutMs) ||
    timeoutMs < 1 ||
    timeoutMs > MAX_PROBE_TIMEOUT_MS
  ) {
    problems.push(`timeoutMs: ${show(timeoutMs)} is not an integer in 1..${MAX_PROBE_TIMEOUT_MS}`);
  }
  const raw = req['targets'];
  const targets: ProbeTarget[] = [];
  if (!Array.isArray(raw)) problems.push(`targets: ${show(raw)} is not an array`);
  else if (raw.length > MAX_PROBE_TARGETS)
    problems.push(`targets: ${raw.length} targets, more than ${MAX_PROBE_TARGETS}`);
  else {
    const seen = new Set<string>();
    raw.forEach((v, i) => {
      const t = parseTarget(v, `targets[${i}]`, problems);
      if (t && seen.has(t.key)) problems.push(`targets[${i}].key: ${show(t.key)} repeats an earlier target`);
      if (t) seen.add(t.key);
      if (t) targets.push(t);
    });
  }
  if (problems.length > 0) throw new ControlRequestError(problems.join('; '));
  return { op: 'probe', timeoutMs: timeoutMs as number, targets };
}

/** Parses one request line; throws ControlRequestError naming the field and value. */
export function parseControlRequest(line: string): ControlRequest {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch (err) {
    throw new ControlRequestError(`request is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    throw new ControlRequestError(`request: ${show(req)} is not an object`);
  }
  const r = req as Record<string, unknown>;
  switch (r['op']) {
    case 'status':
      return { op: 'status' };
    case 'shutdown':
      return { op: 'shutdown' };
    case 'probe':
      return parseProbe(r);
    default:
      throw new ControlRequestError(`op: ${show(r['op'])} is not one of status, probe, shutdown`);
  }
}

/** One line of the control protocol. */
export function encodeLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

const REASON_BY_CODE: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ENETDOWN: 'unreachable',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  // connect()/send() fail with EPERM when the prober's own netns drops the packet on output.
  EPERM: 'blocked-locally',
  EACCES: 'blocked-locally',
};

/** Maps a Node socket error to a probe reason: refused, timeout, unreachable, reset, or "error:<code>". */
export function classifyError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return REASON_BY_CODE[code] ?? `error:${code}`;
  return `error:${err instanceof Error ? err.message : String(err)}`;
}

export interface Verdict {
  readonly ok: boolean;
  readonly reason: string;
  readonly peer?: string;
}

/** Judges a server's id against the target: it must equal the key, unless any peer will do. */
function peerVerdict(target: Pick<ProbeTarget, 'key' | 'anyPeer'>, id: string, okReason: string): Verdict {
  const peer = id.slice(0, 300);
  if (id === target.key || target.anyPeer) return { ok: true, reason: okReason, peer };
  return { ok: false, reason: `wrong-peer:${peer}`, peer };
}

/** Judges what a TCP (or SCTP) target sent before closing: its id must equal the key (unless anyPeer). */
export function tcpVerdict(target: Pick<ProbeTarget, 'key' | 'anyPeer'>, received: string): Verdict {
  const nl = received.indexOf('\n');
  const line = (nl < 0 ? received : received.slice(0, nl)).trim();
  if (line === '') return { ok: false, reason: 'no-answer' };
  return peerVerdict(target, line, 'connected');
}

export function udpProbePayload(nonce: string): string {
  return `probe ${nonce}`;
}

/** The server's answer to a UDP datagram, or undefined when it is not a probe. */
export function udpAnswer(id: string, datagram: string): string | undefined {
  const m = /^probe (\S{1,64})\s*$/.exec(datagram);
  return m ? `${id} ${m[1]}` : undefined;
}

/** Judges a UDP reply; undefined when it answers another probe (stale nonce) and should be ignored. */
export function udpVerdict(
  target: Pick<ProbeTarget, 'key' | 'anyPeer'>,
  nonce: string,
  reply: string,
): Verdict | undefined {
  const m = /^(\S+) (\S+)\s*$/.exec(reply);
  if (!m || m[2] !== nonce) return undefined;
  return peerVerdict(target, m[1]!, 'replied');
}

/** Milliseconds to one decimal. */
export function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}
