// SCTP for the pod server, through socat: Node has no SCTP sockets, and many kernels (this lab machine's among
// them) have no SCTP at all. The argv builders and the classification of socat's failures are pure.
import type { Runner } from '../dataplane/runner.js';
import { CommandError } from '../dataplane/runner.js';
import { tryParseIp } from '../model/cidr.js';
import type { ProbeResult, ProbeTarget } from './pod-server-protocol.js';
import { roundMs, SCTP_UNSUPPORTED, tcpVerdict } from './pod-server-protocol.js';

/** Present when the kernel (of the current netns's view of /proc) has SCTP built in or loaded. */
export const SCTP_PROC_DIR = '/proc/sys/net/sctp';
/** Endpoint table listing bound SCTP ports; LPORT is the sixth column. */
export const SCTP_EPS_FILE = '/proc/net/sctp/eps';

export function kernelHasSctp(exists: (path: string) => boolean): boolean {
  return exists(SCTP_PROC_DIR);
}

function seconds(ms: number): string {
  return String(Math.max(ms, 1) / 1000);
}

/**
 * A dual-stack listener that forks a child per association, which writes "<id>\n" and closes. The id is
 * restricted to letters, digits, "-", "." and "/" by the config, so it is safe both inside socat's address
 * syntax and in the shell SYSTEM runs.
 */
export function sctpListenArgv(id: string, port: number): string[] {
  return ['socat', `SCTP6-LISTEN:${port},ipv6only=0,fork,reuseaddr`, `SYSTEM:echo ${id}`];
}

/** A one-shot client that prints what the target sends until it closes; from `source` when given. */
export function sctpConnectArgv(
  target: Pick<ProbeTarget, 'ip' | 'port' | 'source'>,
  timeoutMs: number,
): string[] {
  const v6 = tryParseIp(target.ip)?.family === 6;
  const s = seconds(timeoutMs);
  const bind = target.source === undefined ? '' : v6 ? `,bind=[${target.source}]` : `,bind=${target.source}`;
  const address = v6
    ? `SCTP6-CONNECT:[${target.ip}]:${target.port},connect-timeout=${s}${bind}`
    : `SCTP4-CONNECT:${target.ip}:${target.port},connect-timeout=${s}${bind}`;
  return ['socat', '-T', s, '-u', address, 'STDOUT'];
}

/** Maps socat's error message (or its being killed at the deadline) to a probe reason. */
export function classifySocatFailure(stderr: string, signal: string | null | undefined): string {
  if (signal) return 'timeout';
  const s = stderr.toLowerCase();
  if (s.includes('protocol not supported')) return SCTP_UNSUPPORTED;
  if (s.includes('connection refused')) return 'refused';
  if (s.includes('timed out')) return 'timeout';
  if (s.includes('no route to host') || s.includes('network is unreachable')) return 'unreachable';
  if (s.includes('connection reset')) return 'reset';
  const last = stderr.trim().split('\n').pop() ?? '';
  return `error:${last.replace(/^.*\bE\s+/, '').slice(0, 200) || 'socat failed'}`;
}

/** Whether the endpoint table text lists a socket bound to `port`. */
export function sctpPortBound(epsText: string, port: number): boolean {
  return epsText
    .split('\n')
    .slice(1)
    .some((line) => line.trim().split(/\s+/)[5] === String(port));
}

export async function probeSctp(
  runner: Runner,
  target: ProbeTarget,
  timeoutMs: number,
): Promise<ProbeResult> {
  const start = performance.now();
  const done = (ok: boolean, reason: string, peer?: string): ProbeResult => ({
    ok,
    reason,
    ms: roundMs(performance.now() - start),
    ...(peer === undefined ? {} : { peer }),
  });
  try {
    const { stdout } = await runner.run(sctpConnectArgv(target, timeoutMs), { timeoutMs });
    const v = tcpVerdict(target, stdout);
    return done(v.ok, v.reason, v.peer);
  } catch (err) {
    if (err instanceof CommandError) return done(false, classifySocatFailure(err.stderr, err.signal));
    return done(false, `error:${(err as Error).message}`);
  }
}
