// The chained case of bench/cni-add.ts: Debian's bridge + host-local alone against the same with palisade-cni in
// redirect mode chained after them, exec'd as a runtime does (src/cni/invoke.ts, in a node netns). Reported: the
// reference ADD, and what palisade adds to it, for a selected pod (facts from the agent's socket, the redirect
// table installed) and for an unselected one (facts, then nothing). Target: the added p50 <= 20 ms.
import type { Server } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { serveHandoff } from '../src/agent/cni-socket.js';
import type { PodFacts } from '../src/chained/selection.js';
import { execPlugin, type RuntimeConf } from '../src/cni/invoke.js';
import type { Runner } from '../src/dataplane/runner.js';
import { createNullLogger } from '../src/util/log.js';
import type { Sandbox } from './sandbox.js';
import { type Summary, summarize } from './stats.js';

export interface ChainedReport {
  readonly reference: Summary;
  readonly addedSelected: Summary;
  readonly addedUnselected: Summary;
  readonly chainSelected: Summary;
}

const selected: PodFacts = {
  namespace: 'shop',
  name: 'web',
  labels: { app: 'web' },
  annotations: { 'sidecar.codesealer.com/status': 'injected', 'codesealer.com/dport': '8080' },
  containers: [
    { name: 'web', ports: [{ containerPort: 8080, protocol: 'TCP' }] },
    { name: 'codesealer-core', ports: [] },
  ],
  initContainers: [],
};

export async function measureChained(
  runner: Runner,
  sb: Sandbox,
  opts: { rounds: number; warmup: number; refBin: string; palBin: string },
): Promise<ChainedReport> {
  const nodeNs = await sb.netns('nchn');
  const agentSocket = join(sb.tmp, 'chained-agent.sock');
  const agent: Server = await serveHandoff(
    agentSocket,
    {
      add: async () => '1',
      del: async () => {},
      status: () => ({ ready: true, revision: '1' }),
      facts: async (namespace, name) => ({
        pod: name.startsWith('sel') ? { ...selected, name } : { ...selected, name, annotations: {} },
        namespace: { name: namespace, labels: { 'codesealer.com/webhook': 'enabled' } },
        revision: '1',
      }),
    },
    createNullLogger(),
  );
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
  };
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const samples = {
    reference: [] as number[],
    selected: [] as number[],
    unselected: [] as number[],
    chain: [] as number[],
  };
  const one = async (name: string, round: number) => {
    const pod = await sb.netns(`c${name[0]}${round}`);
    const rt: RuntimeConf = {
      containerID: `${sb.prefix}-c-${name}-${round}`,
      netns: pod,
      ifname: 'eth0',
      args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'shop', K8S_POD_NAME: `${name}-${round}` },
      binDirs: [opts.refBin, opts.palBin],
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
    for (let round = 0; round < opts.warmup + opts.rounds; round++) {
      const keep = round >= opts.warmup;
      for (const name of round % 2 === 0 ? ['sel', 'unsel'] : ['unsel', 'sel']) {
        const t = await one(name, round);
        if (!keep) continue;
        samples.reference.push(t.ref);
        if (name === 'sel') {
          samples.selected.push(t.added);
          samples.chain.push(t.ref + t.added);
        } else samples.unselected.push(t.added);
      }
    }
  } finally {
    agent.close();
  }
  return {
    reference: summarize(samples.reference),
    addedSelected: summarize(samples.selected),
    addedUnselected: summarize(samples.unselected),
    chainSelected: summarize(samples.chain),
  };
}
