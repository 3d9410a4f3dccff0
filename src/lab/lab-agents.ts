// A lab node's agent as the lab's state says to run it (its datastore, HostEndpoint labels, encryption), and
// `lab agent stop|start NODE`: a node's agent (and with it its tunnel) gone and back, while the rest runs on.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { agentPaths, startNodeAgent, stopNodeAgent, waitForAgent } from './agents.js';
import { kubePaths } from './kube/plan.js';
import { LabError, requireState } from './lab-common.js';
import { nodePaths } from './node-files.js';
import { type LabState, saveState, withLabLock } from './state.js';

/**
 * The lab's IPsec pre-shared key (made once, random), given to a node as a Secret volume would: a file only
 * its agent reads.
 */
/** The lab's IPsec pre-shared key file, made (random) on first use. */
export function labPsk(dir: string): string {
  const labKey = join(dir, 'ipsec-psk');
  if (!existsSync(labKey)) writeFileAtomic(labKey, `${randomBytes(32).toString('base64')}\n`, 0o600);
  return labKey;
}

function givePsk(state: LabState, node: string): void {
  const labKey = labPsk(state.dir);
  const file = nodePaths(state.dir, node).ipsecPsk;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, readFileSync(labKey), 0o600);
}

/** Starts `node`'s agent the way the lab was made; returns its PID. */
export function startLabAgent(state: LabState, node: string, cliEntry: string): number {
  const plan = state.plan.nodes.find((n) => n.name === node);
  if (!plan)
    throw new LabError(`no node ${node} in the lab (${state.plan.nodes.map((n) => n.name).join(', ')})`);
  if (state.encryption === 'ipsec') givePsk(state, node);
  return startNodeAgent({
    labDir: state.dir,
    node: plan,
    cliEntry,
    ...(state.kube
      ? { datastore: { kind: 'kubernetes', kubeconfig: kubePaths(state.dir).kubeconfigOf('palisade-agent') } }
      : {}),
    ...(state.hostEndpointLabels ? { hostEndpointLabels: state.hostEndpointLabels } : {}),
    ...(state.encryption ? { encryption: state.encryption } : {}),
  });
}

/** `lab agent stop|start NODE`. Start waits until the agent is ready. */
export async function labAgent(dirIn: string, action: string, node: string, cliEntry: string): Promise<void> {
  const dir = resolve(dirIn);
  await withLabLock(dir, async () => {
    const state = requireState(dir);
    if (!state.plan.nodes.some((n) => n.name === node)) throw new LabError(`no node ${node} in the lab`);
    const agents = { ...state.agents };
    const running = agents[node];
    if (action === 'stop') {
      if (running) await stopNodeAgent(dir, running);
      delete agents[node];
      saveState({ ...state, agents });
    } else if (action === 'start') {
      if (running) throw new LabError(`lab agent: the agent of ${node} runs already (PID ${running})`);
      agents[node] = startLabAgent(state, node, cliEntry);
      saveState({ ...state, agents });
      await waitForAgent(agentPaths(dir, node).statusSocket, 1, 60_000);
    } else throw new LabError(`lab agent: "${action}" must be stop or start`);
  });
}
