// `lab probe --from X --to Y`: each source's server (a pod's, a node's or the outside host's) makes the
// connections from inside its netns, every source in parallel, every destination of a source in parallel.
import { resolve } from 'node:path';
import { podKey } from '../model/k8s.js';
import { kubeProbePods } from './kube/kube-status.js';
import { sctpAvailable } from './lab.js';
import { LabError, requireState } from './lab-common.js';
import { outsideIps } from './outside.js';
import type { Protocol } from './pod-server-config.js';
import { DEFAULT_PROBE_TIMEOUT_MS } from './pod-server-protocol.js';
import { probeTargets } from './probe.js';
import {
  type LabView,
  type PairResult,
  type PairsJson,
  ProbeSpecError,
  pairResult,
  pairTarget,
  parseEndpoint,
  resolveDestination,
  resolveSource,
} from './probe-pairs.js';
import type { LabState } from './state.js';

export interface PairProbeOptions {
  readonly from: readonly string[];
  readonly to: readonly string[];
  /** For destinations without :PORT. */
  readonly port: number;
  readonly protocol: Protocol;
  readonly timeoutMs?: number;
}

function labView(state: LabState): LabView {
  const pods = state.kube
    ? kubeProbePods(state)
    : state.pods.map((p) => ({ key: podKey(p), ip: p.ip, controlSocket: p.controlSocket }));
  return {
    pods,
    nodes: state.plan.nodes.map((n) => ({ name: n.name, ip: n.underlayIP })),
    hostServers: Object.fromEntries(
      Object.entries(state.hostServers ?? {}).map(([name, s]) => [name, s.controlSocket]),
    ),
    outsideIps: state.outside ? outsideIps(state.outside.addresses) : [],
  };
}

/** Probes every --from against every --to; results in the order given (sources, then destinations). */
export async function labProbePairs(dirIn: string, opts: PairProbeOptions): Promise<PairsJson> {
  const state = requireState(resolve(dirIn));
  if (opts.protocol === 'SCTP' && !sctpAvailable()) {
    throw new LabError('cannot probe SCTP: this kernel has no SCTP support (CONFIG_IP_SCTP)');
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  let view: LabView;
  let sources: ReturnType<typeof resolveSource>[];
  let destinations: ReturnType<typeof resolveDestination>[];
  try {
    view = labView(state);
    sources = opts.from.map((f) => resolveSource(parseEndpoint(f, '--from'), view));
    destinations = opts.to.map((t) => resolveDestination(parseEndpoint(t, '--to'), view, opts.port));
  } catch (err) {
    if (err instanceof ProbeSpecError) throw new LabError(`lab probe: ${err.message}`, { cause: err });
    throw err;
  }
  const rows = await Promise.all(
    sources.map(async (source) => {
      const targets = destinations.map((to, i) => pairTarget(String(i), source, to, opts.protocol));
      const results = await probeTargets(source.controlSocket, targets, timeoutMs);
      return destinations.map((to, i) => pairResult(source, to, opts.protocol, results[String(i)]!));
    }),
  );
  const results: PairResult[] = rows.flat();
  return { protocol: opts.protocol.toLowerCase() as Lowercase<Protocol>, timeoutMs, results };
}
