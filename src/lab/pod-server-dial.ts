// Outbound probes, run by the pod server from inside its pod's netns: one real connection (or datagram
// exchange) per target, all targets in parallel, each bounded by the same timeout.
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Protocol } from './pod-server-config.js';
import type { ProbeResult, ProbeTarget } from './pod-server-protocol.js';
import { classifyError, roundMs, tcpVerdict, udpProbePayload, udpVerdict } from './pod-server-protocol.js';

export type Dial = (target: ProbeTarget, timeoutMs: number) => Promise<ProbeResult>;
export type Dialers = Readonly<Record<Protocol, Dial>>;

/** Most a TCP target may send before the probe stops reading; an id is far shorter. */
const MAX_ANSWER_BYTES = 4096;
/** A lost datagram should not read as "blocked": UDP probes are resent this often until the deadline. */
const UDP_RESEND_MS = 200;

/** Calls `finish` once; the returned function resolves the probe with its elapsed time. */
function settle(
  resolve: (r: ProbeResult) => void,
  cleanup: () => void,
): (ok: boolean, reason: string, peer?: string) => void {
  const start = performance.now();
  let done = false;
  return (ok, reason, peer) => {
    if (done) return;
    done = true;
    cleanup();
    const ms = roundMs(performance.now() - start);
    resolve(peer === undefined ? { ok, reason, ms } : { ok, reason, ms, peer });
  };
}

export const dialTcp: Dial = (target, timeoutMs) =>
  new Promise((resolve) => {
    const local = target.source === undefined ? {} : { localAddress: target.source };
    const socket = connect({ host: target.ip, port: target.port, ...local });
    let connected = false;
    let received = '';
    const finish = settle(resolve, () => {
      clearTimeout(timer);
      socket.destroy();
    });
    const timer = setTimeout(() => finish(false, connected ? 'no-answer' : 'timeout'), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
    });
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.includes('\n') || received.length > MAX_ANSWER_BYTES) {
        const v = tcpVerdict(target, received);
        finish(v.ok, v.reason, v.peer);
      }
    });
    socket.on('end', () => {
      const v = tcpVerdict(target, received);
      finish(v.ok, v.reason, v.peer);
    });
    socket.on('error', (err) => finish(false, classifyError(err)));
  });

export const dialUdp: Dial = (target, timeoutMs) =>
  new Promise((resolve) => {
    const socket = createSocket(target.ip.includes(':') ? 'udp6' : 'udp4');
    const nonce = randomBytes(8).toString('hex');
    const payload = udpProbePayload(nonce);
    let resend: NodeJS.Timeout | undefined;
    const finish = settle(resolve, () => {
      clearTimeout(timer);
      clearInterval(resend);
      socket.close();
    });
    const timer = setTimeout(() => finish(false, 'timeout'), timeoutMs);
    const send = (): void => {
      // Errors (ECONNREFUSED after an ICMP port unreachable) also arrive as 'error' events.
      socket.send(payload, (err) => {
        if (err) finish(false, classifyError(err));
      });
    };
    socket.on('message', (msg) => {
      const v = udpVerdict(target, nonce, msg.toString('utf8'));
      if (v) finish(v.ok, v.reason, v.peer);
    });
    // On a connected socket, an ICMP port unreachable surfaces as ECONNREFUSED from recvmsg.
    socket.on('error', (err) => finish(false, classifyError(err)));
    const start = (): void => {
      socket.connect(target.port, target.ip, () => {
        send();
        resend = setInterval(send, UDP_RESEND_MS);
      });
    };
    // A chosen source: bound first (port 0: any free one), then connected from it.
    if (target.source === undefined) start();
    else socket.bind({ address: target.source, port: 0 }, start);
  });

/** Probes every target in parallel; results are keyed by target key. */
export async function probeAll(
  targets: readonly ProbeTarget[],
  timeoutMs: number,
  dialers: Dialers,
): Promise<Record<string, ProbeResult>> {
  const results = await Promise.all(targets.map((t) => dialers[t.protocol](t, timeoutMs)));
  const out: Record<string, ProbeResult> = {};
  targets.forEach((t, i) => {
    out[t.key] = results[i]!;
  });
  return out;
}
