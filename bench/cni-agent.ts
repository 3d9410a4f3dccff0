// The routed-mode subject of bench/cni-add.ts that goes through the native shim: a real `palisade agent` in the
// subject's node netns, on a synthetic cluster (agent-sync-cluster.ts) whose policies select the pods the bench
// adds, so each ADD waits until the agent has programmed that pod's policy (the agent gate), as on a node.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PodInfo } from '../src/model/cluster.js';
import { manifests, NETWORK, type RunningAgent, startAgent } from './agent-sync-agent.js';
import { LOCAL_NODE, SyntheticCluster } from './agent-sync-cluster.js';

export interface BenchAgent {
  readonly agent: RunningAgent;
  readonly cniSocket: string;
  /** The IPAM network and dataDir the agent reads its endpoints from; the plugin's config must use them. */
  readonly network: string;
  readonly ipamDir: string;
  /** The subnet of the local node's pods (the plugin allocates from it). */
  readonly subnet: string;
  /** CNI_ARGS naming the i-th pod the bench may add (a pod the datastore has, on this node). */
  podArgs(i: number): Record<string, string>;
  /** How big the agent's world is, for the report. */
  readonly describe: string;
}

/**
 * Starts the agent on a cluster of `pods` pods and `policies` policies, plus `benchPods` pods on its node that no
 * endpoint has yet: the ones ADD will wire. Each copies the labels and ports of an existing local pod, so the
 * same policies select it.
 */
export async function startBenchAgent(opts: {
  tmp: string;
  netns: string;
  pods: number;
  policies: number;
  benchPods: number;
  onChild: Parameters<typeof startAgent>[1]['onChild'];
}): Promise<BenchAgent> {
  const c = new SyntheticCluster({ pods: opts.pods, policies: opts.policies, nodes: 10, local: 30, seed: 7 });
  const locals = c.localPods();
  const bench: PodInfo[] = Array.from({ length: opts.benchPods }, (_, i) => {
    const like = locals[i % locals.length]!;
    return { ...like, name: `cni-bench-${i}`, ips: [] };
  });
  const dir = join(opts.tmp, 'agent-cluster');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify(manifests({ ...c, pods: [...c.pods, ...bench] })));
  writeFileSync(join(dir, 'REVISION'), '1\n');
  const ipamDir = join(opts.tmp, 'agent-ipam');
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const agent = await startAgent(c, {
    tmp: opts.tmp,
    netns: opts.netns,
    ipamDir,
    source: `dir:${dir}`,
    env,
    onChild: opts.onChild,
  });
  return {
    agent,
    cniSocket: join(opts.tmp, 'cni.sock'),
    network: NETWORK,
    ipamDir,
    subnet: '10.16.0.0/24',
    podArgs: (i) => {
      const p = bench[i];
      if (!p) throw new Error(`bench pod ${i}: only ${bench.length} were made`);
      return { IgnoreUnknown: '1', K8S_POD_NAMESPACE: p.namespace, K8S_POD_NAME: p.name };
    },
    describe: `${opts.pods} pods (30 on its node), ${opts.policies} policies, node ${LOCAL_NODE}`,
  };
}
