// The time for a host policy change, lockout evaluation included (issue 11 §6), side by side with the same change
// with lockout protection off, in one run.
//
//   env -u NODE_EXTRA_CA_CERTS node --import tsx bench/host-policy-change.ts [--rounds R] [--gnps N]
//       [--nft process|libnftables] [--json]
//
// Cluster: bench/agent-sync's 10k pods / 1k NetworkPolicies over 100 nodes (110 local), N GlobalNetworkPolicies
// (default 1,000) and 100 host policies, a HostEndpoint on every node (bench/agent-sync-global.ts). Two pipelines,
// each a node compiler kept across syncs as the reconciler keeps it (bench/agent-sync-guard.ts) and its own netns:
// "on" goes through HostGuard.admit (default failsafes, the API server at 198.18.255.1:8443, DNS at
// 198.18.255.53), "off" compiles alone. Every round makes two changes, each synced by both pipelines (which goes
// first alternates):
//   - admitted: one port of one host policy moves (cuts nothing): 1 compile and the lockout probes;
//   - refused: host policy 1 rewritten to deny the node's egress to the API server: the guard compiles with it,
//     finds the cut, searches which changed object cuts (one compile per changed object) and compiles again
//     without it, so the kernel sees nothing new; "off" programs the cut. Then it is put back, untimed.
// Timed per sync: admit (the compiles, the probes and the search), its compiles alone, and the kernel
// transaction (applier.update in the netns; through libnftables when palisade-native.node loads). A collection is
// forced, untimed, before each timed sync so neither pipeline pays for the other's garbage.
// Needs root; touches only the namespaces it makes, removed on exit, failure and Ctrl-C. Prints figures only.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mergeEndpoints } from '../src/agent/endpoints.js';
import { loadNative } from '../src/dataplane/native.js';
import { createNftApplier, type NftApplier } from '../src/dataplane/nft-apply.js';
import { createRunner } from '../src/dataplane/runner.js';
import type { Table } from '../src/ir/ir.js';
import type { GlobalNetworkPolicy } from '../src/model/global-network-policy.js';
import type { Logger } from '../src/util/log.js';
import { LOCAL_NODE, SyntheticCluster } from './agent-sync-cluster.js';
import { cutApiServer, HOST_POLICIES, hostPolicyName, makeHostPolicy } from './agent-sync-global.js';
import { GuardedCompiler, type GuardedSync } from './agent-sync-guard.js';
import { Sandbox } from './sandbox.js';
import { formatTable, ms, ratio, summarize } from './stats.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const runner = createRunner();
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

interface Options {
  readonly rounds: number;
  readonly gnps: number;
  readonly writer: 'process' | 'libnftables';
  readonly json: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  let rounds = 30;
  let gnps = 1000;
  let writer: Options['writer'] = loadNative() ? 'libnftables' : 'process';
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const count = () => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a}: "${argv[i]}" is not a count`);
      return n;
    };
    if (a === '--rounds') rounds = Math.max(1, count());
    else if (a === '--gnps') gnps = count();
    else if (a === '--json') json = true;
    else if (a === '--nft') {
      const v = argv[++i];
      if (v !== 'process' && v !== 'libnftables')
        throw new Error(`--nft: "${v}" must be process or libnftables`);
      if (v === 'libnftables' && !loadNative())
        throw new Error('--nft libnftables: palisade-native.node does not load');
      writer = v;
    } else throw new Error(`unknown argument "${a}" (use --rounds R, --gnps N, --nft W, --json)`);
  }
  return { rounds, gnps, writer, json };
}

type Change = 'host policy change (admitted)' | 'cut the API server';
const CHANGES: readonly Change[] = ['host policy change (admitted)', 'cut the API server'];

interface Pipeline {
  readonly lockout: boolean;
  readonly compiler: GuardedCompiler;
  readonly applier: NftApplier;
  prev: Table;
}

interface Sample {
  readonly admit: number;
  readonly compile: number;
  readonly lockout: number;
  readonly compiles: number;
  readonly nft: number;
  readonly total: number;
  readonly mode: string;
  readonly refused: string;
}

async function syncOnce(p: Pipeline, c: SyntheticCluster): Promise<{ synced: GuardedSync; sample: Sample }> {
  const state = mergeEndpoints(c.snapshot(), LOCAL_NODE, c.endpoints);
  gc();
  const t0 = performance.now();
  const synced = p.compiler.sync(state);
  const t1 = performance.now();
  const out = await p.applier.update(p.prev, synced.result.table);
  const t2 = performance.now();
  if (out.error) throw new Error(`incremental update failed: ${out.error}`);
  p.prev = synced.result.table;
  const refused = synced.refused.map((r) => `${r.object}: ${r.connection}`).join('; ');
  const sample: Sample = {
    admit: synced.totalMs,
    compile: synced.compileMs,
    lockout: synced.lockoutMs,
    compiles: synced.compiles,
    nft: t2 - t1,
    total: t2 - t0,
    mode: out.mode,
    refused,
  };
  return { synced, sample };
}

function setHostPolicy(c: SyntheticCluster, name: string, p: GlobalNetworkPolicy): void {
  c.globalPolicies = c.globalPolicies.map((x) => (x.name === name ? p : x));
}

/** The change of `which` in round r; returns how to put it back (undefined: it stays). */
function change(c: SyntheticCluster, which: Change, r: number): (() => void) | undefined {
  if (which === 'host policy change (admitted)') {
    const i = 2 + (r % (HOST_POLICIES - 2)); // not 0 (the node's allowances), not 1 (the one cut below)
    c.hostPolicyVersion += 1;
    setHostPolicy(c, hostPolicyName(i), makeHostPolicy(i, c.hostPolicyVersion));
    return undefined;
  }
  const name = hostPolicyName(1);
  const before = c.globalPolicies.find((x) => x.name === name)!;
  setHostPolicy(c, name, cutApiServer(r));
  return () => setHostPolicy(c, name, before);
}

function check(p: Pipeline, which: Change, s: Sample): void {
  const refuse = p.lockout && which === 'cut the API server';
  if (refuse !== (s.refused !== '') || (refuse && !s.refused.includes('API server')))
    throw new Error(`${which}, lockout ${p.lockout ? 'on' : 'off'}: refused "${s.refused}"`);
  if (refuse && s.mode !== 'noop') throw new Error(`${which}: refused, yet the kernel saw ${s.mode}`);
}

async function pipeline(sb: Sandbox, c: SyntheticCluster, lockout: boolean, writer: Options['writer']) {
  const netns = await sb.netns(lockout ? 'on' : 'off');
  const native = writer === 'libnftables' ? loadNative() : undefined;
  const applier = createNftApplier({ runner, netns, native, log: silent, verify: false });
  const compiler = new GuardedCompiler(LOCAL_NODE, { lockout });
  const first = compiler.sync(mergeEndpoints(c.snapshot(), LOCAL_NODE, c.endpoints));
  if (first.refused.length > 0)
    throw new Error(`start: refused ${first.refused.map((r) => r.object).join(', ')}`);
  await applier.replace(first.result.table);
  return { lockout, compiler, applier, prev: first.result.table } satisfies Pipeline;
}

type Samples = Map<string, Sample[]>;

async function run(opts: Options, sb: Sandbox) {
  const load0 = loadavg()[0]!;
  const c = new SyntheticCluster({
    pods: 10000,
    policies: 1000,
    nodes: 100,
    local: 110,
    globalPolicies: opts.gnps,
    hostEndpoints: true,
  });
  const on = await pipeline(sb, c, true, opts.writer);
  const off = await pipeline(sb, c, false, opts.writer);
  const t = on.prev;
  const size = `${t.chains.length} chains, ${t.chains.reduce((n, x) => n + x.rules.length, 0)} rules, ${t.sets.length} sets, ${t.sets.reduce((n, s) => n + s.elements.length, 0)} elements`;
  console.error(`[host-policy-change] both pipelines loaded: ${size}`);
  const samples: Samples = new Map();
  const key = (which: Change, p: Pipeline) => `${which}|${p.lockout ? 'on' : 'off'}`;
  let refusal = '';
  for (let r = 0; r < opts.rounds; r++) {
    for (const which of CHANGES) {
      const revert = change(c, which, r);
      for (const p of r % 2 === 0 ? [on, off] : [off, on]) {
        const { sample } = await syncOnce(p, c);
        check(p, which, sample);
        if (sample.refused) refusal = sample.refused;
        samples.set(key(which, p), [...(samples.get(key(which, p)) ?? []), sample]);
      }
      if (revert) {
        revert();
        for (const p of [on, off]) await syncOnce(p, c); // untimed
      }
    }
    if ((r + 1) % 10 === 0) console.error(`[host-policy-change] round ${r + 1}/${opts.rounds}`);
  }
  return { samples, size, refusal, load: [load0, loadavg()[0]!] as const };
}

function print(opts: Options, rep: Awaited<ReturnType<typeof run>>): void {
  console.log(
    `Host policy change with lockout protection on and off, ms: ${opts.rounds} rounds, 10k pods / 1k NetworkPolicies / ` +
      `${opts.gnps} GNPs / ${HOST_POLICIES} host policies / a HostEndpoint per node; kernel writes through ${opts.writer}`,
  );
  console.log(
    `table on the node: ${rep.size}; load average (1 min) ${rep.load[0].toFixed(2)} at start, ${rep.load[1].toFixed(2)} at end`,
  );
  console.log(
    'admit = HostGuard.admit (its compiles + lockout probes + the search), or the compile alone with protection off;\n' +
      'probes = admit less its compiles; nft = applier.update (the kernel transaction); total = admit + nft\n',
  );
  const rows: string[][] = [];
  for (const which of CHANGES) {
    const off = rep.samples.get(`${which}|off`) ?? [];
    for (const lockout of ['on', 'off'] as const) {
      const xs = rep.samples.get(`${which}|${lockout}`) ?? [];
      const s = (f: (x: Sample) => number) => summarize(xs.map(f));
      const [admit, compile, probes, nft, total] = [
        s((x) => x.admit),
        s((x) => x.compile),
        s((x) => x.lockout),
        s((x) => x.nft),
        s((x) => x.total),
      ];
      const offTotal = summarize(off.map((x) => x.total));
      const modes = [...new Set(xs.map((x) => x.mode))].join('/');
      const what = lockout === 'off' ? 'off' : which === 'cut the API server' ? 'on: refused' : 'on';
      rows.push([
        which,
        what,
        String(xs.length),
        ...[admit, compile, probes].flatMap((v) => [ms(v.p50), ms(v.p99)]),
        [...new Set(xs.map((x) => x.compiles))].join('/'),
        ms(nft.p50),
        ms(nft.p99),
        ms(total.p50),
        ms(total.p99),
        lockout === 'on' ? `${ratio(total.p50, offTotal.p50)} / ${ratio(total.p99, offTotal.p99)}` : '',
        modes,
      ]);
    }
  }
  const head = ['change', 'lockout', 'n', 'admit p50', 'p99', 'compile p50', 'p99', 'probes p50', 'p99'];
  const tail = ['compiles', 'nft p50', 'p99', 'total p50', 'p99', 'on/off p50 / p99', 'kernel'];
  console.log(formatTable([...head, ...tail], rows));
  const refused = rep.samples.get('cut the API server|on') ?? [];
  console.log(
    `\nthe refusal took ${[...new Set(refused.map((x) => x.compiles))].join('/')} compiles (with every change; once per changed object tried; with the admitted set); refused: ${rep.refusal}`,
  );
  console.log(
    'target: none in issue 11; read against propagation p99 <= 50 ms with 1,000 cluster policies (issue 10)',
  );
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root (it creates network namespaces for nft)');
  const sb = new Sandbox(runner, 'hpc');
  const stop = (signal: NodeJS.Signals) => {
    void sb.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const rep = await run(opts, sb);
    if (opts.json) {
      const out = Object.fromEntries([...rep.samples].map(([k, xs]) => [k, xs]));
      console.log(JSON.stringify({ ...rep, samples: out }, null, 2));
    } else print(opts, rep);
  } finally {
    await sb.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
