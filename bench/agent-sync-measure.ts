// The measurements of bench/agent-sync.ts on one synthetic cluster: cold start (compile, render, `nft -f` of the
// whole table into an empty netns) and propagation of single changes (compile, diff, incremental `nft -f`), the
// way the agent's reconciler does them (src/agent/reconciler.ts: mergeEndpoints → HostGuard.admit around
// NodeCompiler.compile, which recomputes only what the change touched → applier.update, verify off as
// src/agent/agent.ts runs it; bench/agent-sync-guard.ts). The baseline, side by side: a full compile from scratch
// of the same state (what every sync cost before the compiler became incremental) of each change's state, timed
// after the rounds and not applied.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type LocalEndpoint, mergeEndpoints } from '../src/agent/endpoints.js';
import type { NativeAddon } from '../src/dataplane/native.js';
import { createNftApplier } from '../src/dataplane/nft-apply.js';
import { planDiff, renderPlan } from '../src/dataplane/nft-diff.js';
import { renderReplace } from '../src/dataplane/nft-render.js';
import type { Runner } from '../src/dataplane/runner.js';
import type { DatastoreSnapshot } from '../src/datastore/types.js';
import type { Table } from '../src/ir/ir.js';
import { DEFAULT_FAILSAFES } from '../src/model/failsafe.js';
import { compileNode } from '../src/policy/compile.js';
import type { Logger } from '../src/util/log.js';
import type { AgentMemory } from './agent-sync-agent.js';
import { type Kind, kindsFor, mutate } from './agent-sync-changes.js';
import { type ClusterOptions, LOCAL_NODE, SyntheticCluster } from './agent-sync-cluster.js';
import { GuardedCompiler } from './agent-sync-guard.js';
import { CommitWatch } from './commit-watch.js';
import { type Summary, summarize } from './stats.js';

export type { Kind } from './agent-sync-changes.js';

export interface TableSize {
  readonly chains: number;
  readonly rules: number;
  readonly sets: number;
  readonly elements: number;
  readonly mapElements: number;
  readonly scriptBytes: number;
}

export interface ColdStart {
  /** Total of each repetition, the first (cold JIT in this process) included; the other figures are the median rep. */
  readonly totalsMs: readonly number[];
  readonly compileMs: number;
  readonly renderMs: number;
  readonly nftMs: number;
  readonly totalMs: number;
  readonly size: TableSize;
  readonly memory: { rssMB: number; heapUsedMB: number; heapTotalMB: number; baselineRssMB: number };
}

export interface KindResult {
  readonly total: Summary;
  /** From the change to the kernel's commit (nft monitor's "new generation"), transactions only (not noops). */
  readonly committed: Summary;
  readonly compile: Summary;
  /** Lockout protection's own part of the compile (HostGuard.admit less its compiles): the probes. */
  readonly lockout: Summary;
  /** The baseline: compiling the same state from scratch. */
  readonly fullCompile: Summary;
  readonly diff: Summary;
  readonly nft: Summary;
  readonly scriptBytes: Summary;
  readonly modes: Record<string, number>;
}

export interface ScaleResult {
  readonly name: string;
  readonly cluster: ClusterOptions;
  readonly rounds: number;
  readonly cold: ColdStart;
  readonly propagation: Record<string, KindResult>;
  readonly verifiedAfterRounds: boolean;
  readonly agents?: readonly AgentMemory[];
  /** The name of the result this one is compared with side by side (agent-sync.ts --gnps). */
  readonly baseline?: string;
}

const silent: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silent,
};

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MB = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

function sizeOf(t: Table, script: string): TableSize {
  return {
    chains: t.chains.length,
    rules: t.chains.reduce((n, c) => n + c.rules.length, 0),
    sets: t.sets.length,
    elements: t.sets.reduce((n, s) => n + s.elements.length, 0),
    mapElements: t.maps.reduce((n, m) => n + m.elements.length, 0),
    scriptBytes: Buffer.byteLength(script),
  };
}

/** A sync's compile through the guard; a refusal would make the bench measure something else, so it throws. */
function compile(
  snapshot: DatastoreSnapshot,
  endpoints: readonly LocalEndpoint[],
  compiler = new GuardedCompiler(LOCAL_NODE),
) {
  const out = compiler.sync(mergeEndpoints(snapshot, LOCAL_NODE, endpoints));
  if (out.refused.length > 0)
    throw new Error(
      `lockout protection refused ${out.refused.map((r) => `${r.object} (${r.connection})`).join(', ')}`,
    );
  return out;
}

const COLD_REPS = 3;

/** First full sync into an empty netns, COLD_REPS times (the table deleted in between, untimed). */
async function coldStart(c: SyntheticCluster, runner: Runner, netns: string, baseline: number) {
  const reps: Awaited<ReturnType<typeof coldOnce>>[] = [];
  for (let i = 0; i < COLD_REPS; i++) {
    if (i > 0) await runner.run(['nft', 'delete', 'table', 'inet', 'palisade'], { netns });
    reps.push(await coldOnce(c, runner, netns, baseline));
  }
  const median = [...reps].sort((a, b) => a.cold.totalMs - b.cold.totalMs)[COLD_REPS >> 1]!;
  return {
    table: reps[reps.length - 1]!.table,
    cold: { ...median.cold, totalsMs: reps.map((r) => r.cold.totalMs) },
  };
}

/** One full sync into an empty table: compile, render the replace script, `nft -f -`. */
async function coldOnce(c: SyntheticCluster, runner: Runner, netns: string, baseline: number) {
  const t0 = performance.now();
  const table = compile(c.snapshot(), c.endpoints).result.table;
  const t1 = performance.now();
  const script = renderReplace(table);
  const t2 = performance.now();
  await runner.run(['nft', '-f', '-'], { input: script, netns });
  const t3 = performance.now();
  gc();
  const m = process.memoryUsage();
  const cold: Omit<ColdStart, 'totalsMs'> = {
    compileMs: t1 - t0,
    renderMs: t2 - t1,
    nftMs: t3 - t2,
    totalMs: t3 - t0,
    size: sizeOf(table, script),
    memory: {
      rssMB: MB(m.rss),
      heapUsedMB: MB(m.heapUsed),
      heapTotalMB: MB(m.heapTotal),
      baselineRssMB: MB(baseline),
    },
  };
  return { table, cold };
}

interface Sample {
  total: number;
  committed?: number;
  compile: number;
  lockout: number;
  fullCompile: number;
  diff: number;
  nft: number;
  bytes: number;
  mode: string;
}

export async function measureScale(opts: {
  name: string;
  cluster: ClusterOptions;
  rounds: number;
  runner: Runner;
  netns: string;
  progress: (msg: string) => void;
  /** Measures the real agent on the cluster as it is after the rounds. */
  agent?: (c: SyntheticCluster) => Promise<AgentMemory[]>;
  /** Propagation's transactions through libnftables in-process; `nft` processes when absent. */
  native?: NativeAddon;
  /**
   * Time each commit with `nft monitor` (default). The monitor is a process beside the bench on a 2-core machine;
   * without it, "total" (until the transaction returns, i.e. the kernel has committed it) is measured alone.
   */
  commitWatch?: boolean;
  /** Compile each change's state from scratch after the rounds, the baseline (default true). */
  fullCompile?: boolean;
}): Promise<ScaleResult> {
  gc();
  const baseline = process.memoryUsage().rss;
  const c = new SyntheticCluster(opts.cluster);
  const { table, cold } = await coldStart(c, opts.runner, opts.netns, baseline);
  opts.progress(`${opts.name}: cold start ${cold.totalMs.toFixed(0)} ms, ${cold.size.elements} set elements`);
  const applier = createNftApplier({
    runner: opts.runner,
    netns: opts.netns,
    native: opts.native,
    log: silent,
    verify: false,
  });
  const watch = opts.commitWatch === false ? undefined : new CommitWatch(opts.netns);
  await watch?.ready();
  try {
    return await rounds(opts, c, cold, table, applier, watch);
  } finally {
    watch?.stop();
  }
}

async function rounds(
  opts: Parameters<typeof measureScale>[0],
  c: SyntheticCluster,
  cold: ColdStart,
  table: Table,
  applier: ReturnType<typeof createNftApplier>,
  watch: CommitWatch | undefined,
): Promise<ScaleResult> {
  const kinds = kindsFor(c);
  const samples = new Map<Kind, Sample[]>(kinds.map((k) => [k, []]));
  // Each change's state, for the baseline compiled after the rounds (see below).
  const states: { sample: Sample; snapshot: DatastoreSnapshot; endpoints: readonly LocalEndpoint[] }[] = [];
  // The agent's compiler: it has seen the cold start's state, as the reconciler's has after its first sync.
  const compiler = new GuardedCompiler(LOCAL_NODE);
  compile(c.snapshot(), c.endpoints, compiler);
  let prev = table;
  for (let round = 0; round < opts.rounds; round++) {
    // Alternate the order each round so no kind always follows the same one.
    for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
      mutate(c, kind);
      const t0 = performance.now();
      const snapshot = c.snapshot(); // what the datastore hands the reconciler: "change visible" is t0
      const synced = compile(snapshot, c.endpoints, compiler);
      const next = synced.result.table;
      const t1 = performance.now();
      const script = renderPlan(planDiff(prev, next), next); // timed alone for the split; update() redoes it
      const t2 = performance.now();
      const out = await applier.update(prev, next);
      const t3 = performance.now();
      if (out.error) throw new Error(`${kind}: incremental update failed: ${out.error}`);
      const commit = out.mode === 'noop' || !watch ? undefined : await watch.commitAfter(t2);
      if (watch && out.mode !== 'noop' && commit === undefined)
        throw new Error(`${kind}: nft monitor saw no commit`);
      const diff = t2 - t1;
      const update = t3 - t2;
      const sample: Sample = {
        total: t1 - t0 + update,
        committed: commit === undefined ? undefined : commit - t0,
        compile: t1 - t0,
        lockout: synced.lockoutMs,
        fullCompile: 0,
        diff,
        nft: Math.max(0, update - diff),
        bytes: Buffer.byteLength(script),
        mode: out.mode,
      };
      samples.get(kind)!.push(sample);
      if (opts.fullCompile === false) sample.fullCompile = Number.NaN;
      else states.push({ sample, snapshot, endpoints: c.endpoints });
      prev = next;
    }
    if ((round + 1) % 10 === 0) opts.progress(`${opts.name}: round ${round + 1}/${opts.rounds}`);
  }
  // The baseline: each change's state compiled from scratch, after the rounds. Run between the changes, its
  // ~100 ms of work and garbage (and a forced collection) would stand before every timed change, which the
  // agent never has; here each is timed alone, its garbage collected untimed before the next.
  for (const s of states) {
    gc();
    const f0 = performance.now();
    compileNode(mergeEndpoints(s.snapshot, LOCAL_NODE, s.endpoints), LOCAL_NODE, {
      failsafes: DEFAULT_FAILSAFES,
    });
    s.sample.fullCompile = performance.now() - f0;
  }
  states.length = 0;
  gc();
  const verified = await applier.matches(prev);
  const agents = opts.agent ? await opts.agent(c) : undefined;
  for (const a of agents ?? [])
    opts.progress(
      `${opts.name}: palisade agent (${a.datastore}) ready in ${a.readyMs.toFixed(0)} ms, RSS ${a.rssMB.toFixed(0)} MB`,
    );
  return {
    name: opts.name,
    cluster: opts.cluster,
    rounds: opts.rounds,
    cold,
    propagation: summarizeKinds(samples),
    verifiedAfterRounds: verified,
    ...(agents ? { agents } : {}),
  };
}

function countModes(xs: readonly Sample[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const s of xs) m[s.mode] = (m[s.mode] ?? 0) + 1;
  return m;
}

function summarizeKinds(samples: Map<Kind, Sample[]>): Record<string, KindResult> {
  const one = (xs: Sample[]): KindResult => ({
    total: summarize(xs.map((s) => s.total)),
    committed: summarize(xs.flatMap((s) => (s.committed === undefined ? [] : [s.committed]))),
    compile: summarize(xs.map((s) => s.compile)),
    lockout: summarize(xs.map((s) => s.lockout)),
    fullCompile: summarize(xs.map((s) => s.fullCompile)),
    diff: summarize(xs.map((s) => s.diff)),
    nft: summarize(xs.map((s) => s.nft)),
    scriptBytes: summarize(xs.map((s) => s.bytes)),
    modes: countModes(xs),
  });
  const out: Record<string, KindResult> = {};
  for (const [k, xs] of samples) out[k] = one(xs);
  const pods = [...samples].filter(([k]) => k.startsWith('pod ')).flatMap(([, xs]) => xs);
  out['pod add/remove/relabel'] = one(pods);
  out['policy changes (all kinds)'] = one(
    [...samples].filter(([k]) => !k.startsWith('pod ')).flatMap(([, xs]) => xs),
  );
  out.all = one([...samples.values()].flat());
  return out;
}
