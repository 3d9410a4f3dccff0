// Where palisade-cni's ADD and DEL time goes, from kernel tracepoints (perf trace, Debian package linux-perf):
// process execs and exits and the IPAM store's syscalls, which cost little to trace, unlike ptrace/strace.
//
//   env -u NODE_EXTRA_CA_CERTS node --import tsx bench/cni-phases.ts [--runs 20] [--json]
//
// Phases of one plugin exec (p50 over the runs, ms):
//   env -> node        the shebang's `/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node` until node is exec'd
//   node start-up      node's exec until the plugin's first action (first store syscall or first child exec):
//                      V8 and Node bootstrap, loading and running the bundle, parsing stdin and config
//   IPAM store         first to last store syscall (mkdir/symlink/link/rename/unlink/fsync/getdents64)
//   child processes    exec to exit of each `ip` (and the nsenter in front of it), summed
//   rest in Node       everything else up to the exit: spawning and awaiting children, the result, exit
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRunner } from '../src/dataplane/runner.js';
import { Sandbox } from './sandbox.js';
import { formatTable, ms, summarize } from './stats.js';

const REPO = resolve(import.meta.dirname, '..');
const runner = createRunner();
const STORE_SYSCALLS = ['mkdir', 'symlink', 'link', 'rename', 'unlink', 'fsync', 'fdatasync', 'getdents64'];
const EVENTS = [
  'sched:sched_process_exec',
  'sched:sched_process_exit',
  ...STORE_SYSCALLS.map((s) => `syscalls:sys_enter_${s}`),
].join(',');

interface TraceEvent {
  readonly t: number;
  readonly pid: number;
  readonly event: string;
  readonly args: string;
}

/** Lines of `perf trace -o` such as `   37.493 node/7978 syscalls:sys_enter_mkdir(pathname: ...)`. */
function parseTrace(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([\d.]+) [^/\s]+\/(\d+) (\S+?)\((.*)\)\s*$/.exec(line);
    if (m) out.push({ t: Number(m[1]), pid: Number(m[2]), event: m[3]!, args: m[4]! });
  }
  return out;
}

interface Phases {
  readonly total: number;
  readonly envToNode: number;
  readonly startup: number;
  readonly store: number;
  readonly children: number;
  readonly childCount: number;
  readonly rest: number;
}

function phasesOf(events: readonly TraceEvent[]): Phases {
  const first = events[0];
  if (!first) throw new Error('empty trace');
  const main = first.pid;
  const execs = events.filter((e) => e.event === 'sched:sched_process_exec');
  const nodeExec = execs.find((e) => e.pid === main && e.args.includes('/node"'));
  if (!nodeExec) throw new Error('trace has no exec of node by the plugin process');
  const store = events.filter((e) => e.pid === main && e.event.startsWith('syscalls:'));
  const childPids = [...new Set(execs.filter((e) => e.pid !== main).map((e) => e.pid))];
  let children = 0;
  for (const pid of childPids) {
    const start = execs.find((e) => e.pid === pid)!.t;
    const exit = events.find((e) => e.pid === pid && e.event === 'sched:sched_process_exit');
    children += (exit?.t ?? start) - start;
  }
  const firstChild = execs.find((e) => e.pid !== main)?.t ?? Number.POSITIVE_INFINITY;
  const firstAction = Math.min(store[0]?.t ?? Number.POSITIVE_INFINITY, firstChild);
  const total = events[events.length - 1]!.t - first.t;
  const envToNode = nodeExec.t - first.t;
  const startup = (Number.isFinite(firstAction) ? firstAction : events[events.length - 1]!.t) - nodeExec.t;
  const storeSpan = store.length ? store[store.length - 1]!.t - store[0]!.t : 0;
  const rest = total - envToNode - startup - storeSpan - children;
  return { total, envToNode, startup, store: storeSpan, children, childCount: childPids.length, rest };
}

async function traced(
  sb: Sandbox,
  opts: { command: string; conf: string; pod: string; nodeNs: string; n: number },
) {
  const out = join(sb.tmp, `trace-${opts.command}-${opts.n}.txt`);
  const env = {
    ...process.env,
    CNI_COMMAND: opts.command,
    CNI_CONTAINERID: `${sb.prefix}-${opts.n}`,
    CNI_NETNS: opts.pod,
    CNI_IFNAME: 'eth0',
    CNI_PATH: join(sb.tmp, 'bin'),
  };
  const argv = [
    'perf',
    'trace',
    '--no-syscalls',
    '-e',
    EVENTS,
    '-o',
    out,
    '--',
    join(sb.tmp, 'bin', 'palisade-cni'),
  ];
  await runner.run(argv, { input: opts.conf, env, netns: opts.nodeNs });
  return phasesOf(parseTrace(readFileSync(out, 'utf8')));
}

async function measure(sb: Sandbox, runs: number): Promise<Record<'ADD' | 'DEL', Phases[]>> {
  mkdirSync(join(sb.tmp, 'bin'));
  copyFileSync(join(REPO, 'dist', 'palisade-cni'), join(sb.tmp, 'bin', 'palisade-cni'));
  const ipam = { type: 'palisade', subnet: '10.244.9.0/24', dataDir: join(sb.tmp, 'ipam') };
  const conf = JSON.stringify({
    cniVersion: '1.0.0',
    name: `${sb.prefix}net`,
    type: 'palisade-cni',
    mtu: 1500,
    ipam,
  });
  const nodeNs = await sb.netns('node');
  const got: Record<'ADD' | 'DEL', Phases[]> = { ADD: [], DEL: [] };
  for (let n = -2; n < runs; n++) {
    const pod = await sb.netns(`p${n + 2}`);
    const add = await traced(sb, { command: 'ADD', conf, pod, nodeNs, n });
    const del = await traced(sb, { command: 'DEL', conf, pod, nodeNs, n });
    await sb.dropNetns(pod);
    if (n < 0) continue; // warm-up
    got.ADD.push(add);
    got.DEL.push(del);
  }
  return got;
}

const ROWS: [string, keyof Phases][] = [
  ['env -> node', 'envToNode'],
  ['node start-up (to first action)', 'startup'],
  ['IPAM store syscalls', 'store'],
  ['child processes (ip, nsenter)', 'children'],
  ['rest in Node (spawn/wait, output, exit)', 'rest'],
  ['total (traced)', 'total'],
];

function print(got: Record<'ADD' | 'DEL', Phases[]>): void {
  const p50 = (list: Phases[], k: keyof Phases) => summarize(list.map((p) => p[k])).p50;
  const rows = ROWS.map(([label, k]) => [label, ms(p50(got.ADD, k)), ms(p50(got.DEL, k))]);
  rows.push(['children per exec', String(p50(got.ADD, 'childCount')), String(p50(got.DEL, 'childCount'))]);
  console.log(`palisade-cni phases, p50 of ${got.ADD.length} runs each (ms)\n`);
  console.log(formatTable(['phase', 'ADD', 'DEL'], rows));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--runs');
  const runs = i >= 0 ? Number(args[i + 1]) : 20;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: "${args[i + 1]}" is not a count`);
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    throw new Error('perf not found (Debian package linux-perf)', { cause: err });
  }
  if (!existsSync(join(REPO, 'dist', 'palisade-cni')))
    throw new Error('dist/palisade-cni missing: run make build');
  const sb = new Sandbox(runner, 'pcp');
  const stop = () => void sb.cleanup().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const got = await measure(sb, runs);
    if (args.includes('--json')) console.log(JSON.stringify(got));
    else print(got);
  } finally {
    await sb.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
