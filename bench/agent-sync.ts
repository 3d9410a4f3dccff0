// The node agent's cold start, propagation latency and memory on synthetic clusters, one node's view.
//
//   env -u NODE_EXTRA_CA_CERTS node --import tsx bench/agent-sync.ts [--scale 1k|10k|both] [--rounds N]
//       [--all-layouts] [--no-agent] [--nft process|libnftables|both] [--no-commit-watch] [--cnps N]
//       [--gnps N [--heps]] [--no-full-compile] [--json]
//
// Writers (--nft, default both when palisade-native.node loads): the same rounds through an `nft -f` process per
// transaction (the fallback, and the baseline) and through libnftables in-process (the agent's normal path).
// Scales: 1k pods / 100 policies and 10k pods / 1k policies (bench/agent-sync-cluster.ts builds them). Layouts:
// "spread" (the local node holds pods/nodes of them) and "max-pods" (the local node holds 110 pods, Kubernetes'
// default maximum). At 10k only max-pods runs by default: 10k pods need >= 91 nodes at 110 pods each, so a node
// holds ~100 anyway; --all-layouts adds 10k over 200 nodes (50 local).
// Cold start: compile + render + `nft -f` of the whole table into an empty netns; memory of this process after.
// Real agent (unless --no-agent): `bin/palisade agent`, with the dir datastore and then with the kubernetes one
// (a fake API server in the agent's netns, bench/agent-sync-agent.ts), on the cluster after the rounds, in a netns
// of its own: time from spawn to /readyz (its whole cold start: Node start-up, parsing manifests, first sync) and
// its RSS after the first sync.
// Propagation: R rounds of each single change, timed from the new snapshot to the committed nft transaction.
// Every sync goes through lockout protection (HostGuard.admit) as the agent's reconciler runs it.
// --gnps N: each cluster twice in the same run, as it is and with N GlobalNetworkPolicies selecting pods beside the
// NetworkPolicies (bench/agent-sync-global.ts), the GNP changes added to the rounds; --heps adds a HostEndpoint for
// every node and 100 host policies selecting them (normal, applyOnForward, preDNAT, doNotTrack), and a host
// policy change to the rounds. A side-by-side table of the two follows the per-cluster ones.
// --no-full-compile skips the from-scratch baseline compile of every change's state (seconds each with 1,000 GNPs).
// Needs root; nft runs only in a netns it creates, removed on exit, failure and Ctrl-C. Prints figures, never
// pass/fail.
import type { ChildProcess } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadNative, nativeUnavailableReason } from '../src/dataplane/native.js';
import { createRunner } from '../src/dataplane/runner.js';
import { measureAgent } from './agent-sync-agent.js';
import type { ClusterOptions, SyntheticCluster } from './agent-sync-cluster.js';
import { measureScale, type ScaleResult } from './agent-sync-measure.js';
import { printText } from './agent-sync-report.js';
import { Sandbox } from './sandbox.js';

const runner = createRunner();

type Writer = 'process' | 'libnftables';

interface Options {
  readonly writers: Writer[];
  readonly commitWatch: boolean;
  readonly scales: ('1k' | '10k')[];
  readonly rounds?: number;
  readonly allLayouts: boolean;
  readonly agent: boolean;
  readonly json: boolean;
  /** ClusterNetworkPolicies added to every cluster (--cnps N). */
  readonly cnps: number;
  /** GlobalNetworkPolicies (--gnps N): each case also runs with them. */
  readonly gnps: number;
  /** With --gnps: HostEndpoints and host policies too (--heps). */
  readonly heps: boolean;
  readonly fullCompile: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  let scales: Options['scales'] = ['1k', '10k'];
  let rounds: number | undefined;
  let json = false;
  let allLayouts = false;
  let agent = true;
  let writers: Writer[] = loadNative() ? ['process', 'libnftables'] : ['process'];
  let commitWatch = true;
  let cnps = 0;
  let gnps = 0;
  let heps = false;
  let fullCompile = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--cnps') {
      cnps = Number(argv[++i]);
      if (!Number.isInteger(cnps) || cnps < 0) throw new Error(`--cnps: "${argv[i]}" is not a count >= 0`);
    } else if (a === '--gnps') {
      gnps = Number(argv[++i]);
      if (!Number.isInteger(gnps) || gnps < 0) throw new Error(`--gnps: "${argv[i]}" is not a count >= 0`);
    } else if (a === '--heps') heps = true;
    else if (a === '--no-full-compile') fullCompile = false;
    else if (a === '--no-commit-watch') commitWatch = false;
    else if (a === '--nft') {
      const v = argv[++i];
      if (v !== 'process' && v !== 'libnftables' && v !== 'both')
        throw new Error(`--nft: "${v}" must be process, libnftables or both`);
      writers = v === 'both' ? ['process', 'libnftables'] : [v];
      if (writers.includes('libnftables') && !loadNative())
        throw new Error(`--nft ${v}: palisade-native.node: ${nativeUnavailableReason()}`);
    } else if (a === '--all-layouts') allLayouts = true;
    else if (a === '--no-agent') agent = false;
    else if (a === '--scale') {
      const v = argv[++i];
      if (v !== '1k' && v !== '10k' && v !== 'both')
        throw new Error(`--scale: "${v}" must be 1k, 10k or both`);
      scales = v === 'both' ? ['1k', '10k'] : [v];
    } else if (a === '--rounds') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--rounds: "${argv[i]}" is not a count >= 1`);
      rounds = n;
    } else
      throw new Error(
        `unknown argument "${a}" (use --scale 1k|10k|both, --rounds N, --all-layouts, --no-agent, --nft W, --no-commit-watch, --cnps N, --gnps N, --heps, --no-full-compile, --json)`,
      );
  }
  // The real agents read their cluster from files and a fake API server that carry no ClusterNetworkPolicies.
  if (cnps > 0 && agent)
    throw new Error('--cnps needs --no-agent (the agents would not see the ClusterNetworkPolicies)');
  if (gnps > 0 && agent)
    throw new Error('--gnps needs --no-agent (the agents would not see the GlobalNetworkPolicies)');
  if (heps && gnps === 0) throw new Error('--heps goes with --gnps N');
  return { writers, commitWatch, scales, rounds, allLayouts, agent, json, cnps, gnps, heps, fullCompile };
}

interface Case {
  readonly name: string;
  readonly cluster: ClusterOptions;
  readonly rounds: number;
  /** The case this one is compared with (--gnps: the same cluster without them). */
  readonly baseline?: string;
}

function cases(opts: Options): Case[] {
  const out: Case[] = [];
  if (opts.scales.includes('1k')) {
    const rounds = opts.rounds ?? 50;
    const base = { pods: 1000, policies: 100 };
    out.push({
      name: '1k/100 spread (50 nodes, 20 local)',
      cluster: { ...base, nodes: 50, local: 20 },
      rounds,
    });
    out.push({ name: '1k/100 max-pods (110 local)', cluster: { ...base, nodes: 50, local: 110 }, rounds });
  }
  if (opts.scales.includes('10k')) {
    const rounds = opts.rounds ?? 10;
    const base = { pods: 10000, policies: 1000 };
    if (opts.allLayouts)
      out.push({
        name: '10k/1k spread (200 nodes, 50 local)',
        cluster: { ...base, nodes: 200, local: 50 },
        rounds,
      });
    out.push({
      name: '10k/1k max-pods (100 nodes, 110 local)',
      cluster: { ...base, nodes: 100, local: 110 },
      rounds,
    });
  }
  const withCnps =
    opts.cnps === 0
      ? out
      : out.map((c) => ({
          ...c,
          name: `${c.name} + ${opts.cnps} CNPs`,
          cluster: { ...c.cluster, clusterPolicies: opts.cnps },
        }));
  if (opts.gnps === 0) return withCnps;
  // Side by side in one run: each case as it is, then with the GlobalNetworkPolicies (and host endpoints).
  const host = opts.heps ? ' + 100 host policies, a HostEndpoint per node' : '';
  return withCnps.flatMap((c) => [
    c,
    {
      ...c,
      name: `${c.name} + ${opts.gnps} GNPs${host}`,
      cluster: { ...c.cluster, globalPolicies: opts.gnps, hostEndpoints: opts.heps },
      baseline: c.name,
    },
  ]);
}

export interface Report {
  readonly machine: {
    cpus: number;
    cpuModel: string;
    memGB: number;
    kernel: string;
    node: string;
    nft: string;
  };
  readonly loadavg1mStartEnd: [number, number];
  readonly scales: ScaleResult[];
}

async function run(
  opts: Options,
  sb: Sandbox,
  onChild: (c: ChildProcess | undefined) => void,
): Promise<Report> {
  const load0 = loadavg()[0]!;
  const nft = (await runner.run(['nft', '--version'])).stdout.trim();
  const scales: ScaleResult[] = [];
  for (const c of cases(opts)) {
    for (const writer of opts.writers) {
      const netns = await sb.netns(`n${scales.length}`);
      const progress = (msg: string) => console.error(`[agent-sync] ${msg}`);
      const i = scales.length;
      // The real agent once per case, with the last writer (the agent itself uses libnftables when it loads).
      const agent =
        opts.agent && writer === opts.writers.at(-1)
          ? async (cluster: SyntheticCluster) => {
              const out = [];
              for (const datastore of ['dir', 'kubernetes'] as const) {
                const agentNs = await sb.netns(`a${i}${datastore[0]}`);
                const tmp = join(sb.tmp, `agent${i}-${datastore}`);
                out.push(await measureAgent(cluster, { tmp, netns: agentNs, onChild, datastore }));
                await sb.dropNetns(agentNs);
              }
              return out;
            }
          : undefined;
      const tag = (n: string) => `${n} [${writer === 'process' ? 'nft process' : 'libnftables'}]`;
      const name = tag(c.name);
      const native = writer === 'libnftables' ? loadNative() : undefined;
      const { commitWatch, fullCompile } = opts;
      const s = await measureScale({
        ...c,
        ...{ name, runner, netns, progress, agent, native, commitWatch, fullCompile },
      });
      scales.push(c.baseline ? { ...s, baseline: tag(c.baseline) } : s);
      await sb.dropNetns(netns);
    }
  }
  return {
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '?',
      memGB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      node: process.version,
      nft,
    },
    loadavg1mStartEnd: [load0, loadavg()[0]!],
    scales,
  };
}

function roundNumbers(_key: string, v: unknown): unknown {
  return typeof v === 'number' ? Math.round(v * 1000) / 1000 : v;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root (it creates a network namespace for nft)');
  const sb = new Sandbox(runner, 'pas');
  let child: ChildProcess | undefined;
  const stop = (signal: NodeJS.Signals) => {
    child?.kill('SIGTERM');
    void sb.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const rep = await run(opts, sb, (c) => {
      child = c;
    });
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
