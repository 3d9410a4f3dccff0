// The chained case of bench/cni-add.ts: Debian's bridge + host-local alone against the same with palisade-cni in
// redirect mode chained after them, exec'd as a runtime does (src/cni/invoke.ts, in a node netns). Reported: the
// reference ADD, and what palisade adds to it, for a selected pod (facts from the agent's socket, the redirect
// table installed) and for an unselected one (facts, then nothing), two ways side by side:
//   - node: the Node plugin exec'd as palisade-cni (it asks the agent for the facts, then runs nft itself);
//   - shim: the native shim exec'd as palisade-cni, which hands the invocation to the agent; the agent (here a
//     stand-in in this process serving the agent's real in-process handler) runs it without a Node start-up.
// Target: the added p50 <= 20 ms.
import type { Server } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cniInProcess } from '../src/agent/cni-inprocess.js';
import { serveStandInAgent } from '../src/agent/testdata/stand-in-agent.js';
import { injectedPod } from '../src/chained/testdata/facts.js';
import { execPlugin, type RuntimeConf } from '../src/cni/invoke.js';
import type { Runner } from '../src/dataplane/runner.js';
import { createNullLogger } from '../src/util/log.js';
import type { Sandbox } from './sandbox.js';
import { type Summary, summarize } from './stats.js';

export interface ChainedVariant {
  readonly addedSelected: Summary;
  readonly addedUnselected: Summary;
  readonly chainSelected: Summary;
}

export interface ChainedReport {
  readonly reference: Summary;
  readonly node: ChainedVariant;
  readonly shim: ChainedVariant;
}

type Variant = 'node' | 'shim';

const selected = injectedPod('web');

export async function measureChained(
  runner: Runner,
  sb: Sandbox,
  opts: { rounds: number; warmup: number; refBin: string; nodeBin: string; shimBin: string },
): Promise<ChainedReport> {
  const nodeNs = await sb.netns('nchn');
  const agentSocket = join(sb.tmp, 'chained-agent.sock');
  const agent: Server = await serveStandInAgent(agentSocket, {
    cni: cniInProcess({ runner, log: createNullLogger() }),
    facts: async (namespace, name) => ({
      pod: name.startsWith('sel') ? { ...selected, name } : { ...selected, name, annotations: {} },
      namespace: { name: namespace, labels: { 'codesealer.com/webhook': 'enabled' } },
      revision: '1',
    }),
  });
  const bridge = {
    cniVersion: '1.0.0',
    name: 'chain',
    type: 'bridge',
    bridge: `${sb.prefix}cbr`,
    isGateway: true,
    ipMasq: false,
    ipam: { type: 'host-local', subnet: '10.244.7.0/24', dataDir: join(sb.tmp, 'ipam-chained') },
  };
  const redirect = {
    cniVersion: '1.0.0',
    name: 'chain',
    type: 'palisade-cni',
    mode: 'redirect',
    agentSocket,
    markerDir: join(sb.tmp, 'markers'),
  };
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const samples = { reference: [] as number[], node: variantSamples(), shim: variantSamples() };
  const one = async (variant: Variant, name: string, round: number) => {
    const pod = await sb.netns(`c${variant[0]}${name[0]}${round}`);
    const rt: RuntimeConf = {
      containerID: `${sb.prefix}-c${variant}-${name}-${round}`,
      netns: pod,
      ifname: 'eth0',
      args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'shop', K8S_POD_NAME: `${name}-${round}` },
      binDirs: [opts.refBin, variant === 'node' ? opts.nodeBin : opts.shimBin],
      hostNetns: nodeNs,
      cacheDir: join(sb.tmp, 'cache-chained'),
      env,
    };
    let t0 = performance.now();
    const prev = await execPlugin(runner, { command: 'ADD', conf: bridge, rt });
    const ref = performance.now() - t0;
    t0 = performance.now();
    await execPlugin(runner, { command: 'ADD', conf: { ...redirect, prevResult: prev }, rt });
    const added = performance.now() - t0;
    await execPlugin(runner, { command: 'DEL', conf: { ...redirect, prevResult: prev }, rt });
    await execPlugin(runner, { command: 'DEL', conf: { ...bridge, prevResult: prev }, rt });
    await sb.dropNetns(pod);
    return { ref, added };
  };
  try {
    const runs: [Variant, string][] = [
      ['node', 'sel'],
      ['shim', 'sel'],
      ['node', 'unsel'],
      ['shim', 'unsel'],
    ];
    for (let round = 0; round < opts.warmup + opts.rounds; round++) {
      const keep = round >= opts.warmup;
      for (const [variant, name] of round % 2 === 0 ? runs : [...runs].reverse()) {
        const t = await one(variant, name, round);
        if (!keep) continue;
        samples.reference.push(t.ref);
        const v = samples[variant];
        if (name === 'sel') {
          v.selected.push(t.added);
          v.chain.push(t.ref + t.added);
        } else v.unselected.push(t.added);
      }
    }
  } finally {
    agent.close();
  }
  const summary = (v: ReturnType<typeof variantSamples>): ChainedVariant => ({
    addedSelected: summarize(v.selected),
    addedUnselected: summarize(v.unselected),
    chainSelected: summarize(v.chain),
  });
  return {
    reference: summarize(samples.reference),
    node: summary(samples.node),
    shim: summary(samples.shim),
  };
}

function variantSamples() {
  return { selected: [] as number[], unselected: [] as number[], chain: [] as number[] };
}
