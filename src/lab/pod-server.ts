// One pod's server: serves the pod's declared ports, and answers the lab on its control socket (status, probe
// other pods from inside this pod's netns, shutdown). Wired by pod-server-main.ts; tests wire it with fakes.
import type { Runner } from '../dataplane/runner.js';
import type { PodServerConfig, PortSpec } from './pod-server-config.js';
import { type ControlHandler, type ControlServer, listenControl } from './pod-server-control.js';
import { type Dialers, dialTcp, dialUdp, probeAll } from './pod-server-dial.js';
import { type Listener, listenTcp, listenUdp } from './pod-server-listen.js';
import type { PodLog } from './pod-server-log.js';
import { type PortStatus, SCTP_UNSUPPORTED } from './pod-server-protocol.js';
import { probeSctp, sctpListenArgv, sctpPortBound } from './pod-server-sctp.js';
import type { ChildHandle, SpawnChild } from './pod-server-spawn.js';

export interface PodServerDeps {
  readonly log: PodLog;
  /** Runs socat SCTP clients. */
  readonly runner: Runner;
  /** Starts socat SCTP listeners. */
  readonly spawnChild: SpawnChild;
  readonly sctpSupported: boolean;
  /** Reads /proc/net/sctp/eps (undefined when absent), to see when an SCTP listener has bound. */
  readonly readSctpEndpoints: () => string | undefined;
  /** Address the ports listen on (unless the config lists addresses); "::" dual-stack when absent. */
  readonly listenHost?: string;
  /** Called after a shutdown request has been answered. */
  readonly onShutdown: () => void;
  readonly pid?: number;
}

export interface PodServer {
  /** Settles once every port is bound or has failed to. */
  readonly ready: Promise<readonly PortStatus[]>;
  /** Stops serving: kills socat children, closes listeners and the control socket (removing it). */
  close(): Promise<void>;
}

interface Served {
  readonly status: PortStatus;
  readonly listener?: Listener;
}

const SCTP_BIND_POLL_MS = 10;
/** socat binds within milliseconds; past this, a child that is still alive is taken to be listening. */
const SCTP_BIND_WAIT_MS = 500;
const CLOSE_WAIT_MS = 500;

function statusOf(spec: PortSpec, error?: string): PortStatus {
  const base = spec.name === undefined ? {} : { name: spec.name };
  return error === undefined
    ? { port: spec.port, protocol: spec.protocol, ...base, listening: true }
    : { port: spec.port, protocol: spec.protocol, ...base, listening: false, error };
}

async function listenSctp(id: string, spec: PortSpec, deps: PodServerDeps): Promise<Served> {
  const child: ChildHandle = deps.spawnChild(sctpListenArgv(id, spec.port));
  const listener: Listener = {
    close: async () => {
      child.kill();
      await child.exited;
    },
  };
  let exit: string | undefined;
  void child.exited.then((how) => {
    exit = how;
  });
  const deadline = performance.now() + SCTP_BIND_WAIT_MS;
  while (performance.now() < deadline) {
    if (exit !== undefined) return { status: statusOf(spec, `socat ${exit}`) };
    if (sctpPortBound(deps.readSctpEndpoints() ?? '', spec.port)) break;
    await new Promise((r) => setTimeout(r, SCTP_BIND_POLL_MS));
  }
  deps.log.info('sctp listener started', { port: spec.port, pid: child.pid });
  return { status: statusOf(spec), listener };
}

/** One listener per host (undefined: the wildcard), closed together; if one cannot bind, none stays. */
async function listenAll(
  hosts: readonly (string | undefined)[],
  listen: (host: string | undefined) => Promise<Listener>,
): Promise<Listener> {
  const settled = await Promise.allSettled(hosts.map(listen));
  const listeners = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(listeners.map((l) => l.close()));
    throw failed.reason;
  }
  return { close: async () => void (await Promise.all(listeners.map((l) => l.close()))) };
}

async function servePort(
  id: string,
  spec: PortSpec,
  deps: PodServerDeps,
  hosts: readonly (string | undefined)[],
): Promise<Served> {
  const opts = (host: string | undefined) => ({ id, port: spec.port, host, log: deps.log });
  try {
    if (spec.protocol === 'TCP')
      return { status: statusOf(spec), listener: await listenAll(hosts, (h) => listenTcp(opts(h))) };
    if (spec.protocol === 'UDP')
      return { status: statusOf(spec), listener: await listenAll(hosts, (h) => listenUdp(opts(h))) };
    if (!deps.sctpSupported) return { status: statusOf(spec, SCTP_UNSUPPORTED) };
    return await listenSctp(id, spec, deps);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    deps.log.error('port failed', { port: spec.port, protocol: spec.protocol, err });
    return { status: statusOf(spec, e.code ? `${e.code}: ${e.message}` : e.message) };
  }
}

function dialersFor(deps: PodServerDeps): Dialers {
  return {
    TCP: dialTcp,
    UDP: dialUdp,
    SCTP: deps.sctpSupported
      ? (t, timeoutMs) => probeSctp(deps.runner, t, timeoutMs)
      : async () => ({ ok: false, reason: SCTP_UNSUPPORTED, ms: 0 }),
  };
}

function handlerFor(config: PodServerConfig, deps: PodServerDeps, ready: Promise<readonly PortStatus[]>) {
  const dialers = dialersFor(deps);
  const handler: ControlHandler = async (req) => {
    if (req.op === 'status') {
      return { answer: { id: config.id, pid: deps.pid ?? process.pid, ports: await ready } };
    }
    if (req.op === 'shutdown') return { answer: { ok: true }, afterWrite: deps.onShutdown };
    const start = performance.now();
    const results = await probeAll(req.targets, req.timeoutMs, dialers);
    const ok = Object.values(results).filter((r) => r.ok).length;
    const ms = Math.round(performance.now() - start);
    deps.log.info('probed', { targets: req.targets.length, ok, ms });
    return { answer: { results } };
  };
  return handler;
}

function within(ms: number, work: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export async function startPodServer(config: PodServerConfig, deps: PodServerDeps): Promise<PodServer> {
  const hosts = config.addresses ?? [deps.listenHost];
  const serving = Promise.all(config.ports.map((spec) => servePort(config.id, spec, deps, hosts)));
  const ready = serving.then((served) => served.map((s) => s.status));
  let control: ControlServer;
  try {
    control = await listenControl(config.controlSocket, handlerFor(config, deps, ready), deps.log);
  } catch (err) {
    await Promise.all((await serving).map((s) => s.listener?.close()));
    throw err;
  }
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    const served = await serving;
    await within(CLOSE_WAIT_MS, Promise.all([control.close(), ...served.map((s) => s.listener?.close())]));
  };
  return {
    ready,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}
