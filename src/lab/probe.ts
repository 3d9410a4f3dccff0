// The lab's probe client. It runs in the root netns and talks only to pod servers' control sockets (Unix
// sockets at filesystem paths); the pod servers make the real connections from inside their pods' netns.
import { connect } from 'node:net';
import type { Protocol } from './pod-server-config.js';
import type { PodStatus, ProbeResult, ProbeTarget } from './pod-server-protocol.js';
import { DEFAULT_PROBE_TIMEOUT_MS, encodeLine } from './pod-server-protocol.js';
import { type Details, type Matrix, matrixFromDetails } from './probe-matrix.js';

export type { PodStatus, PortStatus, ProbeResult, ProbeTarget } from './pod-server-protocol.js';
export type { Details, Matrix, MatrixJson } from './probe-matrix.js';
export { matrixToJson, renderMatrixTable } from './probe-matrix.js';

export interface ProbePod {
  /** "<namespace>/<pod>" */
  readonly key: string;
  readonly ip: string;
  readonly controlSocket: string;
}

export interface ProbeOptions {
  readonly port: number;
  readonly protocol: Protocol;
  /** Per target; default 1000. */
  readonly timeoutMs?: number;
}

/** A pod server did not answer, or answered with an error: the lab is broken, which is not a "✗". */
export class PodServerError extends Error {
  override readonly name = 'PodServerError';
  constructor(
    readonly controlSocket: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`pod server at ${controlSocket}: ${message}`, options);
  }
}

const CONTROL_TIMEOUT_MS = 2000;
/** Time a pod server gets beyond the probe timeout to run the probes and answer. */
const PROBE_ANSWER_MARGIN_MS = 5000;
const WAIT_POLL_MS = 10;

/** Sends one request line, resolves with the parsed answer line. Rejects with PodServerError. */
export function controlRequest(controlSocket: string, request: unknown, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(controlSocket);
    let buffered = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    function fail(err: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(
        err instanceof PodServerError ? err : new PodServerError(controlSocket, err.message, { cause: err }),
      );
    }
    socket.setEncoding('utf8');
    socket.on('error', fail);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0 || settled) return;
      let answer: unknown;
      try {
        answer = JSON.parse(buffered.slice(0, nl));
      } catch (err) {
        return fail(new PodServerError(controlSocket, 'answer is not JSON', { cause: err }));
      }
      const error = (answer as { error?: unknown } | null)?.error;
      if (typeof error === 'string') return fail(new PodServerError(controlSocket, error));
      settled = true;
      clearTimeout(timer);
      socket.end();
      resolve(answer);
    });
    socket.on('end', () => fail(new Error('closed without answering')));
    socket.write(encodeLine(request));
  });
}

export async function podStatus(controlSocket: string, timeoutMs = CONTROL_TIMEOUT_MS): Promise<PodStatus> {
  const answer = (await controlRequest(controlSocket, { op: 'status' }, timeoutMs)) as PodStatus;
  if (typeof answer?.id !== 'string' || typeof answer.pid !== 'number' || !Array.isArray(answer.ports)) {
    throw new PodServerError(controlSocket, `status answer ${JSON.stringify(answer)} lacks id, pid or ports`);
  }
  return answer;
}

/** Polls until the pod server answers status (every port bound or failed), or throws after timeoutMs. */
export async function waitForPodServer(controlSocket: string, timeoutMs: number): Promise<PodStatus> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = deadline - performance.now();
    try {
      return await podStatus(controlSocket, Math.max(1, Math.round(left)));
    } catch (err) {
      if (performance.now() + WAIT_POLL_MS >= deadline) {
        const why = err instanceof Error ? err.message : String(err);
        throw new PodServerError(controlSocket, `not ready after ${timeoutMs} ms (${why})`, { cause: err });
      }
    }
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}

/** Has one pod server probe the targets, in parallel, from inside its netns. */
export async function probeTargets(
  controlSocket: string,
  targets: readonly ProbeTarget[],
  timeoutMs = DEFAULT_PROBE_TIMEOUT_MS,
): Promise<Record<string, ProbeResult>> {
  const request = { op: 'probe', timeoutMs, targets };
  const answer = await controlRequest(controlSocket, request, timeoutMs + PROBE_ANSWER_MARGIN_MS);
  const results = (answer as { results?: Record<string, ProbeResult> } | null)?.results;
  const missing = targets.filter((t) => typeof results?.[t.key]?.ok !== 'boolean').map((t) => t.key);
  if (!results || missing.length > 0) {
    throw new PodServerError(controlSocket, `probe answer lacks results for ${missing.join(', ')}`);
  }
  return results;
}

/** Every pod probes every pod (itself included), all sources in parallel. */
export async function probeMatrix(
  pods: readonly ProbePod[],
  opts: ProbeOptions,
): Promise<{ matrix: Matrix; details: Details }> {
  const seen = new Set<string>();
  for (const p of pods) {
    if (seen.has(p.key)) throw new Error(`probeMatrix: pod key ${p.key} appears twice`);
    seen.add(p.key);
  }
  const sorted = [...pods].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const targets = sorted.map((p) => ({ key: p.key, ip: p.ip, port: opts.port, protocol: opts.protocol }));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const rows = await Promise.all(sorted.map((p) => probeTargets(p.controlSocket, targets, timeoutMs)));
  const details: Details = {};
  sorted.forEach((p, i) => {
    details[p.key] = rows[i]!;
  });
  return { matrix: matrixFromDetails(details), details };
}

/** Asks the pod server to exit; resolves once it has answered. */
export async function shutdownPodServer(
  controlSocket: string,
  timeoutMs = CONTROL_TIMEOUT_MS,
): Promise<void> {
  await controlRequest(controlSocket, { op: 'shutdown' }, timeoutMs);
}
