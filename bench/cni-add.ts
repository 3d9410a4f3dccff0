// CNI ADD/DEL latency of palisade-cni against the reference bridge + host-local plugins (Debian's
// containernetworking-plugins), in one run, interleaved round by round so machine noise hits all alike.
//
//   env -u NODE_EXTRA_CA_CERTS node --import tsx bench/cni-add.ts [--rounds 100] [--warmup 5] [--parallel 50]
//       [--json] [--no-breakdown] [--no-chained]
//
// Routed mode, two ways:
//   - through the native shim to a real `palisade agent` in the node netns (bench/cni-agent.ts), which runs the
//     plugin in its process (netlink, libnftables) and programs the pod's policy before ADD returns: what a node
//     with the DaemonSet does;
//   - the Node plugin standalone (no agent): what a node without the agent does.
// Then `--parallel` ADDs at once, wall time, through the shim against the reference.
//
// The chained case (bench/cni-chained.ts, unless --no-chained): bridge + host-local alone against the same with
// palisade-cni in redirect mode chained after them: what palisade adds to the reference ADD.
//
// Each plugin is exec'd the way a runtime on the node execs it (src/cni/invoke.ts: CNI_* env, config on stdin,
// run in the node's netns through nsenter) and the wall time of each exec is measured, spawn to exit. Every
// round uses a fresh pod netns, made and removed outside the timed part. Needs root; touches nothing outside
// the netns and temp dir it makes, and removes them on exit, failure or Ctrl-C.

import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execPlugin, type RuntimeConf } from '../src/cni/invoke.js';
import { createRunner, type RunOptions } from '../src/dataplane/runner.js';
import { type BenchAgent, startBenchAgent } from './cni-agent.js';
import { type ChainedReport, measureChained } from './cni-chained.js';
import { Sandbox } from './sandbox.js';
import { addSamples, formatTable, ms, ratio, type Summary, summarize } from './stats.js';

const REPO = resolve(import.meta.dirname, '..');
const REF_BIN = '/usr/lib/cni';
const runner = createRunner();
/** How many times the `--parallel` burst runs per subject (alternating which goes first). */
const PARALLEL_REPS = 5;
/** The shim subject's agent while it runs: stopped on Ctrl-C too. */
let agentChild: ChildProcess | undefined;

interface Options {
  readonly rounds: number;
  readonly warmup: number;
  readonly parallel: number;
  readonly json: boolean;
  readonly breakdown: boolean;
  readonly chained: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const opts = { rounds: 100, warmup: 5, parallel: 50, json: false, breakdown: true, chained: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') opts.json = true;
    else if (a === '--no-breakdown') opts.breakdown = false;
    else if (a === '--no-chained') opts.chained = false;
    else if (a === '--rounds' || a === '--warmup' || a === '--parallel') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < (a === '--warmup' ? 0 : 1))
        throw new Error(`${a}: "${argv[i]}" is not a count`);
      opts[a.slice(2) as 'rounds' | 'warmup' | 'parallel'] = n;
    } else
      throw new Error(
        `unknown argument "${a}" (use --rounds N, --warmup N, --parallel N, --json, --no-breakdown, --no-chained)`,
      );
  }
  return opts;
}

/** One plugin under test: its node netns, its config (as libcni passes it) and where it is found. */
interface Subject {
  readonly label: string;
  readonly tag: string;
  readonly nodeNs: string;
  readonly conf: Record<string, unknown>;
  readonly binDirs: readonly string[];
  readonly ipamDir: string;
  /** CNI_ARGS for the i-th pod (the shim subject's agent knows its pods by name). */
  readonly args?: (i: number) => Record<string, string>;
  readonly add: number[];
  readonly del: number[];
}

interface Subjects {
  readonly shim: Subject;
  readonly standalone: Subject;
  readonly reference: Subject;
  readonly agent: BenchAgent;
}

function binDir(sb: Sandbox, name: string, files: Record<string, string>): string {
  const dir = join(sb.tmp, name);
  mkdirSync(dir);
  for (const [as, from] of Object.entries(files)) copyFileSync(join(REPO, 'dist', from), join(dir, as));
  return dir;
}

async function makeSubjects(
  sb: Sandbox,
  opts: Options,
  onChild: (c: ChildProcess | undefined) => void,
): Promise<Subjects> {
  const shimNode = await sb.netns('nshim');
  const agent = await startBenchAgent({
    tmp: join(sb.tmp),
    netns: shimNode,
    pods: 1000,
    policies: 100,
    benchPods: opts.warmup + opts.rounds + PARALLEL_REPS * opts.parallel,
    onChild,
  });
  const shim: Subject = {
    label: 'palisade (shim -> agent)',
    tag: 's',
    nodeNs: shimNode,
    conf: {
      cniVersion: '1.0.0',
      name: agent.network,
      type: 'palisade-cni',
      mtu: 1500,
      ipam: { type: 'palisade', subnet: agent.subnet, dataDir: agent.ipamDir },
      agentSocket: agent.cniSocket,
    },
    binDirs: [
      binDir(sb, 'bin-shim', { 'palisade-cni': 'palisade-cni-shim', 'palisade-cni-node': 'palisade-cni' }),
    ],
    ipamDir: agent.ipamDir,
    args: agent.podArgs,
    add: [],
    del: [],
  };
  const palIpam = join(sb.tmp, 'ipam-palisade');
  const standalone: Subject = {
    label: 'palisade (Node plugin)',
    tag: 'p',
    nodeNs: await sb.netns('npal'),
    conf: {
      cniVersion: '1.0.0',
      name: `${sb.prefix}net`,
      type: 'palisade-cni',
      mtu: 1500,
      ipam: { type: 'palisade', subnet: '10.244.9.0/24', dataDir: palIpam },
    },
    binDirs: [binDir(sb, 'bin', { 'palisade-cni': 'palisade-cni' })],
    ipamDir: palIpam,
    add: [],
    del: [],
  };
  const refIpam = join(sb.tmp, 'ipam-reference');
  const reference: Subject = {
    label: 'bridge+host-local',
    tag: 'r',
    nodeNs: await sb.netns('nref'),
    conf: {
      cniVersion: '1.0.0',
      name: 'ref',
      type: 'bridge',
      bridge: `${sb.prefix}br0`,
      isGateway: true,
      ipMasq: false,
      ipam: { type: 'host-local', subnet: '10.244.8.0/24', dataDir: refIpam },
    },
    binDirs: [REF_BIN],
    ipamDir: refIpam,
    add: [],
    del: [],
  };
  return { shim, standalone, reference, agent };
}

function runtimeConf(s: Subject, sb: Sandbox, pod: string, i: number): RuntimeConf {
  return {
    containerID: `${sb.prefix}-${s.tag}-${i}`,
    netns: pod,
    ifname: 'eth0',
    binDirs: s.binDirs,
    hostNetns: s.nodeNs,
    cacheDir: join(sb.tmp, 'cache'),
    ...(s.args ? { args: s.args(i) } : {}),
  };
}

function addressesOf(s: Subject, result: unknown): void {
  const ips = (result as { ips?: { address: string }[] } | undefined)?.ips ?? [];
  if (ips.length === 0) throw new Error(`${s.label} ADD returned no address: ${JSON.stringify(result)}`);
}

/** ADD then DEL (with the ADD result as prevResult, as libcni does) of one pod; returns both wall times. */
async function addDel(s: Subject, sb: Sandbox, round: number): Promise<{ add: number; del: number }> {
  const pod = await sb.netns(`${s.tag}${round}`);
  const rt = runtimeConf(s, sb, pod, round);
  let t0 = performance.now();
  const result = await execPlugin(runner, { command: 'ADD', conf: s.conf, rt });
  const add = performance.now() - t0;
  addressesOf(s, result);
  t0 = performance.now();
  await execPlugin(runner, { command: 'DEL', conf: { ...s.conf, prevResult: result }, rt });
  const del = performance.now() - t0;
  await sb.dropNetns(pod);
  return { add, del };
}

/** `n` ADDs at once (pods `first`…), the wall time until the last returns; then DELs them (untimed). */
async function parallelAdds(s: Subject, sb: Sandbox, first: number, n: number): Promise<number> {
  const pods = await Promise.all(Array.from({ length: n }, (_, k) => sb.netns(`${s.tag}par${k}`)));
  const rts = pods.map((pod, k) => runtimeConf(s, sb, pod, first + k));
  const t0 = performance.now();
  const results = await Promise.all(
    rts.map((rt) => execPlugin(runner, { command: 'ADD', conf: s.conf, rt })),
  );
  const wall = performance.now() - t0;
  for (const r of results) addressesOf(s, r);
  for (const [k, rt] of rts.entries())
    await execPlugin(runner, { command: 'DEL', conf: { ...s.conf, prevResult: results[k] }, rt });
  for (const pod of pods) await sb.dropNetns(pod);
  return wall;
}

/** Commands that split a plugin exec into parts, each spawned the same way (nsenter into a node netns). */
function probes(pal: Subject, ref: Subject): { name: string; argv: string[]; opts: RunOptions }[] {
  // pal: the standalone subject (its bin dir holds the Node plugin as palisade-cni).
  const version = (s: Subject) => ({
    input: JSON.stringify({ cniVersion: '1.0.0' }),
    netns: s.nodeNs,
    env: { ...process.env, CNI_COMMAND: 'VERSION', CNI_PATH: s.binDirs.join(':') },
  });
  return [
    { name: 'nsenter + true (spawn floor)', argv: ['true'], opts: { netns: pal.nodeNs } },
    {
      name: 'nsenter + ip -batch (link show lo)',
      argv: ['ip', '-batch', '-'],
      opts: { netns: pal.nodeNs, input: 'link show lo\n' },
    },
    {
      name: 'nsenter + node -e 0 (no NODE_EXTRA_CA_CERTS)',
      argv: ['env', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0'],
      opts: { netns: pal.nodeNs },
    },
    { name: 'palisade-cni VERSION', argv: [join(pal.binDirs[0]!, 'palisade-cni')], opts: version(pal) },
    { name: 'bridge VERSION', argv: [join(REF_BIN, 'bridge')], opts: version(ref) },
  ];
}

async function timeRun(argv: readonly string[], opts: RunOptions): Promise<number> {
  const t0 = performance.now();
  await runner.run(argv, opts);
  return performance.now() - t0;
}

/** Addresses still reserved in an IPAM dataDir (palisade and host-local both name a reservation by its IP). */
function leftovers(dataDir: string): string[] {
  if (!existsSync(dataDir)) return [];
  return readdirSync(dataDir, { recursive: true, encoding: 'utf8' }).filter((f) =>
    /(^|\/)\d+\.\d+\.\d+\.\d+$/.test(f),
  );
}

interface Report {
  readonly machine: { cpus: number; kernel: string; node: string; loadavg1mStartEnd: [number, number] };
  readonly rounds: number;
  readonly warmup: number;
  readonly agent: string;
  readonly subjects: Record<string, { add: Summary; del: Summary; addDel: Summary }>;
  /** Each palisade subject against the reference: p50 and p99 ratios. */
  readonly ratios: Record<string, Record<'add' | 'del' | 'addDel', { p50: number; p99: number }>>;
  /** `parallel` ADDs at once, PARALLEL_REPS times alternating: wall times in ms per subject. */
  readonly parallel: { readonly n: number; readonly wallMs: Record<string, Summary> };
  readonly breakdown: Record<string, Summary>;
  chained?: ChainedReport;
}

async function measure(opts: Options, sb: Sandbox): Promise<Report> {
  const load0 = loadavg()[0]!;
  const subjects = await makeSubjects(sb, opts, (c) => {
    agentChild = c;
  });
  const { shim, standalone, reference, agent } = subjects;
  try {
    const all = [shim, standalone, reference];
    const before = new Map(all.map((s) => [s, new Set(leftovers(s.ipamDir))]));
    const list = probes(standalone, reference);
    const probeSamples = new Map<string, number[]>(list.map((p) => [p.name, []]));
    for (let round = 0; round < opts.warmup + opts.rounds; round++) {
      const keep = round >= opts.warmup;
      // Rotate the order every round, so no subject always runs first (or right after another).
      const order = all.map((_, k) => all[(k + round) % all.length]!);
      for (const s of order) {
        const t = await addDel(s, sb, round);
        if (!keep) continue;
        s.add.push(t.add);
        s.del.push(t.del);
      }
      if (!opts.breakdown) continue;
      for (const p of round % 2 === 0 ? list : [...list].reverse()) {
        const t = await timeRun(p.argv, p.opts);
        if (keep) probeSamples.get(p.name)!.push(t);
      }
    }
    let next = opts.warmup + opts.rounds;
    const walls = new Map<Subject, number[]>([
      [shim, []],
      [reference, []],
    ]);
    for (let rep = 0; rep < PARALLEL_REPS; rep++) {
      for (const s of rep % 2 === 0 ? [shim, reference] : [reference, shim]) {
        walls.get(s)!.push(await parallelAdds(s, sb, next, opts.parallel));
      }
      next += opts.parallel;
    }
    const wallMs = Object.fromEntries([...walls].map(([s, w]) => [s.label, summarize(w)]));
    for (const s of all) {
      const left = leftovers(s.ipamDir).filter((ip) => !before.get(s)!.has(ip));
      if (left.length)
        throw new Error(`${s.label}: addresses still reserved after every DEL: ${left.join(', ')}`);
    }
    return report(opts, subjects, probeSamples, load0, { n: opts.parallel, wallMs });
  } finally {
    await agent.agent.stop();
  }
}

function report(
  opts: Options,
  subjects: Subjects,
  probeSamples: Map<string, number[]>,
  load0: number,
  parallel: Report['parallel'],
): Report {
  const sums = (s: Subject) => ({
    add: summarize(s.add),
    del: summarize(s.del),
    addDel: summarize(addSamples(s.add, s.del)),
  });
  const r = sums(subjects.reference);
  const ratios: Report['ratios'] = {};
  const out: Report['subjects'] = {};
  for (const s of [subjects.shim, subjects.standalone]) {
    const p = sums(s);
    out[s.label] = p;
    const rat = (k: 'add' | 'del' | 'addDel') => ({ p50: p[k].p50 / r[k].p50, p99: p[k].p99 / r[k].p99 });
    ratios[s.label] = { add: rat('add'), del: rat('del'), addDel: rat('addDel') };
  }
  out[subjects.reference.label] = r;
  return {
    machine: {
      cpus: cpus().length,
      kernel: release(),
      node: process.version,
      loadavg1mStartEnd: [load0, loadavg()[0]!],
    },
    rounds: opts.rounds,
    warmup: opts.warmup,
    agent: subjects.agent.describe,
    subjects: out,
    ratios,
    parallel,
    breakdown: Object.fromEntries(
      [...probeSamples].filter(([, v]) => v.length).map(([k, v]) => [k, summarize(v)]),
    ),
  };
}

function printText(rep: Report): void {
  console.log(`CNI ADD/DEL latency, ms: ${rep.rounds} rounds after ${rep.warmup} warm-up, interleaved`);
  const [l0, l1] = rep.machine.loadavg1mStartEnd;
  const load = `load average (1 min) ${l0.toFixed(2)} at start, ${l1.toFixed(2)} at end`;
  console.log(
    `machine: ${rep.machine.cpus} CPUs, kernel ${rep.machine.kernel}, node ${rep.machine.node}, ${load}`,
  );
  console.log(`the shim's agent: ${rep.agent}\n`);
  const names = Object.keys(rep.subjects);
  const refName = names.at(-1)!;
  const rows = (['add', 'del', 'addDel'] as const).flatMap((k) =>
    names.map((n) => {
      const s = rep.subjects[n]![k];
      const ref = rep.subjects[refName]![k];
      return [
        { add: 'ADD', del: 'DEL', addDel: 'ADD+DEL' }[k],
        n,
        ms(s.p50),
        ms(s.p99),
        n === refName ? '' : ratio(s.p50, ref.p50),
        n === refName ? '' : ratio(s.p99, ref.p99),
      ];
    }),
  );
  console.log(formatTable(['', '', 'p50', 'p99', 'ratio p50', 'ratio p99'], rows));
  const shim = names[0]!;
  for (const k of ['add', 'del'] as const) {
    const v = rep.ratios[shim]![k].p50;
    console.log(
      `target (${shim} ${k.toUpperCase()} p50 <= the reference's): ${v <= 1 ? 'met' : 'MISSED'} (${v.toFixed(2)}x)`,
    );
  }
  const walls = Object.entries(rep.parallel.wallMs);
  console.log(
    `\n${rep.parallel.n} ADDs at once, wall time until the last returns (${PARALLEL_REPS} bursts each, alternating):`,
  );
  console.log(
    formatTable(
      ['', 'median', 'min', 'max'],
      walls.map(([n, w]) => [n, ms(w.p50), ms(w.min), ms(w.max)]),
    ),
  );
  if (rep.chained) printChained(rep.chained);
  const parts = Object.entries(rep.breakdown);
  if (parts.length === 0) return;
  console.log('\nbreakdown (same rounds, spawned like the plugins):');
  console.log(
    formatTable(
      ['', 'p50', 'p99', 'min'],
      parts.map(([k, s]) => [k, ms(s.p50), ms(s.p99), ms(s.min)]),
    ),
  );
}

function printChained(c: ChainedReport): void {
  console.log(
    '\nchained: bridge+host-local alone, and what palisade-cni (mode redirect) chained after it adds:',
  );
  const row = (name: string, s: Summary) => [name, ms(s.p50), ms(s.p99), ms(s.min)];
  const rows = [row('bridge+host-local ADD (reference)', c.reference)];
  for (const [name, v] of [
    ['Node plugin', c.node],
    ['native shim -> agent', c.shim],
  ] as const) {
    rows.push(row(`+ palisade ADD, selected pod (${name})`, v.addedSelected));
    rows.push(row(`+ palisade ADD, unselected pod (${name})`, v.addedUnselected));
    rows.push(row(`chain total, selected pod (${name})`, v.chainSelected));
  }
  console.log(formatTable(['', 'p50', 'p99', 'min'], rows));
  for (const [name, v] of [
    ['Node plugin', c.node],
    ['native shim', c.shim],
  ] as const) {
    const verdict = v.addedSelected.p50 <= 20 ? 'met' : 'MISSED';
    console.log(`target (added p50 <= 20 ms), ${name}: ${verdict} (${ms(v.addedSelected.p50)} ms)`);
  }
}

/** JSON replacer: milliseconds to 3 decimals. */
function roundNumbers(_key: string, v: unknown): unknown {
  return typeof v === 'number' ? Math.round(v * 1000) / 1000 : v;
}

function preflight(): void {
  if (process.getuid?.() !== 0) throw new Error('needs root (it creates network namespaces)');
  for (const p of ['bridge', 'host-local']) {
    if (!existsSync(join(REF_BIN, p)))
      throw new Error(`${REF_BIN}/${p} missing (Debian package containernetworking-plugins)`);
  }
  if (
    !['palisade-cni', 'palisade-cni-shim', 'palisade-native.node'].every((f) =>
      existsSync(join(REPO, 'dist', f)),
    )
  ) {
    execFileSync(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { cwd: REPO, stdio: 'inherit' });
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  preflight();
  const sb = new Sandbox(runner, 'pcb');
  const stop = (signal: NodeJS.Signals) => {
    agentChild?.kill('SIGTERM');
    void sb.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const rep = await measure(opts, sb);
    if (opts.chained) {
      const shimBin = join(sb.tmp, 'shim-bin');
      mkdirSync(shimBin);
      copyFileSync(join(REPO, 'dist', 'palisade-cni-shim'), join(shimBin, 'palisade-cni'));
      copyFileSync(join(REPO, 'dist', 'palisade-cni'), join(shimBin, 'palisade-cni-node'));
      rep.chained = await measureChained(runner, sb, {
        rounds: opts.rounds,
        warmup: opts.warmup,
        refBin: REF_BIN,
        nodeBin: join(REPO, 'dist'),
        shimBin,
      });
    }
    if (opts.json) console.log(JSON.stringify(rep, roundNumbers, 2));
    else printText(rep);
  } finally {
    await sb.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
