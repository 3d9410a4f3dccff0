// The compile step of a sync as the agent's reconciler runs it (src/agent/reconciler.ts syncOnce): on the state
// mergeEndpoints makes of the snapshot, HostGuard.admit around the incremental NodeCompiler (lockout protection
// on, the agent's default), with the default failsafes, an API server and a DNS server. Timed in two
// parts: the compiles the guard asked for, and the rest of admit (the lockout probes run through the IR
// interpreter, and the search for the object that cuts when one does).
import { performance } from 'node:perf_hooks';
import { type Admitted, HostGuard } from '../src/agent/host-guard.js';
import type { ClusterState } from '../src/model/cluster.js';
import { DEFAULT_FAILSAFES } from '../src/model/failsafe.js';
import { type CompileResult, NodeCompiler } from '../src/policy/node-compiler.js';
import { API_SERVER, DNS_SERVER } from './agent-sync-global.js';

export interface GuardedSync {
  readonly result: CompileResult;
  /** All of it: admit (compiles and lockout checks), or the compile alone with protection off. */
  readonly totalMs: number;
  /** The compiles alone. */
  readonly compileMs: number;
  /** totalMs - compileMs: the lockout probes, and the search when a change cuts. */
  readonly lockoutMs: number;
  readonly compiles: number;
  readonly refused: Admitted['refused'];
}

/** One node's compiler, with or without lockout protection, kept across syncs as the reconciler keeps it. */
export class GuardedCompiler {
  readonly compiler: NodeCompiler;
  private readonly guard: HostGuard | undefined;

  constructor(
    readonly node: string,
    opts: { readonly lockout: boolean } = { lockout: true },
  ) {
    this.compiler = new NodeCompiler(node, { failsafes: DEFAULT_FAILSAFES });
    this.guard = opts.lockout
      ? new HostGuard({
          node,
          failsafes: DEFAULT_FAILSAFES,
          apiServers: () => [API_SERVER],
          dnsServers: () => [DNS_SERVER],
        })
      : undefined;
  }

  sync(state: ClusterState): GuardedSync {
    let compileMs = 0;
    const compile = (s: ClusterState) => {
      const c0 = performance.now();
      const r = this.compiler.compile(s);
      compileMs += performance.now() - c0;
      return r;
    };
    const t0 = performance.now();
    const admitted = this.guard
      ? this.guard.admit(state, compile)
      : { result: compile(state), refused: [], compiles: 1 };
    const totalMs = performance.now() - t0;
    return {
      result: admitted.result,
      totalMs,
      compileMs,
      lockoutMs: Math.max(0, totalMs - compileMs),
      compiles: admitted.compiles,
      refused: admitted.refused,
    };
  }
}
