// The node agent against a real Kubernetes API server, side by side with the dir datastore, in one run.
//
//   env -u NODE_EXTRA_CA_CERTS node --import tsx bench/kube-sync.ts [--scale 1k|10k] [--rounds N]
//
// The synthetic cluster of bench/agent-sync-cluster.ts (10k: 10k pods / 1k NetworkPolicies on 100 nodes; 1k:
// 1k pods / 100 policies on 50 nodes; 110 pods on the agent's node either way) is created in a real control
// plane (test/helpers/kube-api.ts: etcd, kube-apiserver, controller-manager, scheduler of the pinned release,
// in a netns of their own; bench/kube-sync-cluster.ts) and written as a manifest directory. Then, for each
// datastore, the real `palisade agent` (bench/agent-sync-agent.ts) runs in a netns of its own, as the
// manifests' ServiceAccount for the API (reached through a loopback forwarder inside its netns), and reports:
// - cold start: spawn to /readyz (Node start-up, the first list or read of the manifests, first sync);
// - RSS a second after that first sync;
// - propagation: R relabels of a local pod, each one moving it into or out of some policy's selection, timed
//   from just before the PATCH of its labels (or the atomic write of its manifest) to the kernel's commit of
//   the agent's nft transaction (bench/commit-watch.ts). Both datastores get the same changes in the same order.
// The control plane runs through both measurements, so both see the same background load.
// Needs root; nothing touches the root netns; every netns, process and file is removed on exit, failure and
// Ctrl-C. Prints figures, never pass/fail.
import type { ChildProcess } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRunner } from '../src/dataplane/runner.js';
import { createKubeRest } from '../src/datastore/kube-rest.js';
import { DEFAULT_VALUES, renderManifests, SERVICE_ACCOUNT } from '../src/deploy/manifests.js';
import { type KubeApi, startForwarder, startKubeApi } from '../test/helpers/kube-api.js';
import { type AgentWhere, agentMemory, startAgent } from './agent-sync-agent.js';
import { type ClusterOptions, LOCAL_NODE, SyntheticCluster } from './agent-sync-cluster.js';
import { CommitWatch } from './commit-watch.js';
import {
  type AdminClient,
  adminClient,
  IN_FLIGHT,
  labelPatch,
  planRelabels,
  populateApi,
  type Relabel,
  writeDirCluster,
  writeDirPod,
} from './kube-sync-cluster.js';
import { formatTable, ms, type Summary, summarize } from './stats.js';

const runner = createRunner();
const progress = (msg: string) => console.error(`[kube-sync] ${msg}`);

const SCALES: Record<'1k' | '10k', ClusterOptions> = {
  '1k': { pods: 1000, policies: 100, nodes: 50, local: 110 },
  '10k': { pods: 10000, policies: 1000, nodes: 100, local: 110 },
};

function parseArgs(argv: readonly string[]): { scale: '1k' | '10k'; rounds: number } {
  let scale: '1k' | '10k' = '10k';
  let rounds = 30;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--scale') {
      const v = argv[++i];
      if (v !== '1k' && v !== '10k') throw new Error(`--scale: "${v}" must be 1k or 10k`);
      scale = v;
    } else if (a === '--rounds') {
      rounds = Number(argv[++i]);
      if (!Number.isInteger(rounds) || rounds < 1)
        throw new Error(`--rounds: "${argv[i]}" is not a count >= 1`);
    } else throw new Error(`unknown argument "${a}" (use --scale 1k|10k, --rounds N)`);
  }
  return { scale, rounds };
}

/** What is running that this process started, by pid: ended on exit, failure and Ctrl-C. */
const running = new Map<string, () => void>();

interface Side {
  readonly datastore: 'dir' | 'kubernetes';
  readonly readyMs: number;
  readonly rssMB: number;
  readonly hwmMB: number;
  readonly heapUsedMB: number;
  readonly externalMB: number;
  readonly propagation: Summary;
  /** Rounds whose commit did not come within 30 s. */
  readonly missed: number;
}

interface SideSetup {
  readonly datastore: 'dir' | 'kubernetes';
  readonly where: Pick<AgentWhere, 'tmp' | 'netns' | 'source' | 'env'>;
  /** Makes round i's change; resolves once it is written (the PATCH answered). */
  apply(r: Relabel, i: number): Promise<void>;
}

/** Starts the agent, reads its memory, then times each change to the kernel's commit; stops the agent. */
async function measureSide(c: SyntheticCluster, changes: readonly Relabel[], s: SideSetup): Promise<Side> {
  const watch = new CommitWatch(s.where.netns);
  running.set(`nft monitor ${s.datastore}`, () => watch.stop());
  const onChild = (child: ChildProcess | undefined) =>
    child
      ? running.set(`agent ${s.datastore}`, () => child.kill('SIGTERM'))
      : running.delete(`agent ${s.datastore}`);
  try {
    await watch.ready();
    const agent = await startAgent(c, { ...s.where, ipamDir: join(s.where.tmp, 'ipam'), onChild });
    progress(`${s.datastore}: agent ready in ${agent.readyMs.toFixed(0)} ms`);
    try {
      const memory = await agentMemory(agent);
      const samples: number[] = [];
      let missed = 0;
      for (const [i, r] of changes.entries()) {
        await new Promise((res) => setTimeout(res, 200)); // let the previous round's work finish
        const t0 = performance.now();
        await s.apply(r, i);
        const t1 = await watch.commitAfter(t0, 30_000);
        if (t1 === undefined) missed += 1;
        else samples.push(t1 - t0);
      }
      progress(`${s.datastore}: ${changes.length} rounds done`);
      const { readyMs } = agent;
      return { datastore: s.datastore, readyMs, ...memory, propagation: summarize(samples), missed };
    } finally {
      await agent.stop();
    }
  } finally {
    watch.stop();
    running.delete(`nft monitor ${s.datastore}`);
  }
}

function agentEnv(kubeconfig?: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.KUBECONFIG;
  if (kubeconfig) env.KUBECONFIG = kubeconfig;
  return env;
}

async function dirSide(api: KubeApi, c: SyntheticCluster, changes: readonly Relabel[]): Promise<Side> {
  const tmp = join(api.fx.tmp, 'agent-dir');
  const dir = join(tmp, 'cluster');
  writeDirCluster(dir, c);
  const netns = await api.fx.netns('agent-dir');
  const apply = async (r: Relabel, i: number) => writeDirPod(dir, r.pod, i + 2);
  const where = { tmp, netns, source: `dir:${dir}`, env: agentEnv() };
  return measureSide(c, changes, { datastore: 'dir', where, apply });
}

async function kubeSide(
  api: KubeApi,
  admin: AdminClient,
  c: SyntheticCluster,
  changes: readonly Relabel[],
): Promise<Side> {
  const role = renderManifests(DEFAULT_VALUES).find((o) => o.kind === 'ClusterRole');
  const rules = (role?.rules ?? []) as Record<string, unknown>[];
  const kubeconfig = await api.serviceAccount(SERVICE_ACCOUNT, rules);
  const netns = await api.fx.netns('agent-kube');
  const port = Number(new URL(createKubeRest(kubeconfig).server).port);
  const forwarder = await startForwarder(runner, netns, port, api.paths.apiSocket);
  // The whole group: socat and its per-connection forks (the watches the agent holds open).
  running.set('forwarder', () => forwarder.exitCode === null && process.kill(-forwarder.pid!, 'SIGTERM'));
  const apply = async (r: Relabel) => {
    const path = `/api/v1/namespaces/${r.pod.namespace}/pods/${r.pod.name}`;
    await admin.send('PATCH', path, labelPatch(r), 'merge');
  };
  try {
    const where = {
      tmp: join(api.fx.tmp, 'agent-kube'),
      netns,
      source: 'kubernetes',
      env: agentEnv(kubeconfig),
    };
    return await measureSide(c, changes, { datastore: 'kubernetes', where, apply });
  } finally {
    running.get('forwarder')?.();
    running.delete('forwarder');
  }
}

async function run(api: KubeApi, opts: ReturnType<typeof parseArgs>, c: SyntheticCluster) {
  const changes = planRelabels(c, opts.rounds);
  const admin = adminClient(api);
  try {
    const t0 = performance.now();
    await populateApi(admin, c, progress);
    const populateS = (performance.now() - t0) / 1000;
    progress(`cluster created through the API in ${populateS.toFixed(0)} s`);
    const sample = c.pods[0]!;
    const served = await admin.send('GET', `/api/v1/namespaces/${sample.namespace}/pods/${sample.name}`);
    const podKB = Buffer.byteLength(served) / 1024;
    const sides = [await dirSide(api, c, changes), await kubeSide(api, admin, c, changes)];
    return { populateS, podKB, sides };
  } finally {
    admin.close();
  }
}

interface Machine {
  readonly line: string;
  readonly loadStart: readonly number[];
}

async function machine(): Promise<Machine> {
  const nft = (await runner.run(['nft', '--version'])).stdout.trim();
  const memGB = Math.round(totalmem() / 2 ** 30);
  const line = `${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${memGB} GB, kernel ${release()}, node ${process.version}, ${nft}`;
  return { line, loadStart: loadavg() };
}

function printReport(
  m: Machine,
  opts: ReturnType<typeof parseArgs>,
  c: SyntheticCluster,
  r: Awaited<ReturnType<typeof run>>,
): void {
  const o = c.opts;
  const load = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join('/');
  console.log(
    `Agent on a real API server and on the manifest directory, ${opts.scale}: ${o.pods} pods / ${o.policies} ` +
      `NetworkPolicies on ${o.nodes} nodes (${o.local} on ${LOCAL_NODE}), ${opts.rounds} rounds (ms unless noted)`,
  );
  console.log(
    `machine: ${m.line}; load average (1/5/15 min) ${load(m.loadStart)} at start, ${load(loadavg())} at end`,
  );
  console.log(
    `API server (${o.pods} pods created and their status patched, ${IN_FLIGHT} requests in flight): ` +
      `${r.populateS.toFixed(0)} s; one pod as served: ${r.podKB.toFixed(1)} KB\n`,
  );
  const col = (f: (s: Side) => string) => r.sides.map(f);
  const rows = [
    ['cold start: spawn to /readyz', ...col((s) => ms(s.readyMs))],
    ['RSS after first sync, MB', ...col((s) => s.rssMB.toFixed(1))],
    ['peak RSS, MB', ...col((s) => s.hwmMB.toFixed(1))],
    ['heap used, MB', ...col((s) => s.heapUsedMB.toFixed(1))],
    ['propagation: rounds (missed)', ...col((s) => `${s.propagation.n} (${s.missed})`)],
    ['propagation p50', ...col((s) => ms(s.propagation.p50))],
    ['propagation p99', ...col((s) => ms(s.propagation.p99))],
    ['propagation mean', ...col((s) => ms(s.propagation.mean))],
    ['propagation min / max', ...col((s) => `${ms(s.propagation.min)} / ${ms(s.propagation.max)}`)],
  ];
  console.log(formatTable(['', ...r.sides.map((s) => s.datastore)], rows));
  console.log(
    "\npropagation: a local pod relabelled into or out of some policy's selection, from just before its manifest " +
      "file (then REVISION) is written\natomically, or its labels PATCHed, to the kernel's commit of the " +
      "agent's nft transaction (nft monitor); missed = no commit within 30 s",
  );
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, nft)');
  const m = await machine();
  const c = new SyntheticCluster(SCALES[opts.scale]);
  let api: KubeApi | undefined;
  let interrupted = false;
  const stopAll = () => {
    for (const stop of [...running.values()].reverse()) stop(); // the agents before their forwarder
    running.clear();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    stopAll();
    if (api) void api.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress('starting the control plane');
    api = await startKubeApi('pks');
    if (interrupted) throw new Error('interrupted');
    const figures = await run(api, opts, c);
    printReport(m, opts, c, figures);
  } finally {
    stopAll();
    await api?.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
