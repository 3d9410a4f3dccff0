// The lab commands that exist for the real control plane (kubeconfig, kubectl, the per-node kubelet) and
// `lab exec`, which works on either kind of lab.
import { resolve } from 'node:path';
import { runAttached } from '../dataplane/runner.js';
import { createKubeRest } from '../datastore/kube-rest.js';
import {
  COMPONENTS,
  type Component,
  startComponent,
  stopComponent,
  waitForApiServer,
} from './kube/control-plane.js';
import { kubeApply, kubeDelete } from './kube/kube-apply.js';
import { kubeSandboxes } from './kube/kube-lab.js';
import { kubectlArgv } from './kube/kubectl.js';
import { LabKubelet } from './kube/kubelet.js';
import { kubePaths } from './kube/plan.js';
import { type LabDeps, LabError, requireState } from './lab-common.js';
import { loadState, saveState, withLabLock } from './state.js';

export function labHasControlPlane(dir: string): boolean {
  return loadState(resolve(dir))?.kube !== undefined;
}

function requireKubeState(dir: string) {
  const state = requireState(resolve(dir));
  if (!state.kube) {
    throw new LabError(`the lab in ${state.dir} has no control plane (lab up --control-plane kubernetes)`);
  }
  return { state, kube: state.kube, paths: kubePaths(state.dir) };
}

export async function labKubeApply(
  deps: LabDeps,
  dir: string,
  files: readonly string[],
  verb: 'apply' | 'delete',
): Promise<void> {
  const abs = resolve(dir);
  const paths = files.map((f) => (f === '-' ? f : resolve(f)));
  await withLabLock(abs, async () => {
    const { state } = requireKubeState(abs);
    await (verb === 'apply' ? kubeApply(deps, state, paths) : kubeDelete(deps, state, paths));
  });
}

export function labKubeconfig(dir: string): string {
  return requireKubeState(dir).paths.adminKubeconfig;
}

export function labKubectl(dir: string, args: readonly string[]): Promise<number> {
  const { kube, paths } = requireKubeState(dir);
  return runAttached(kubectlArgv(kube.controlPlane.bin, paths, args));
}

/** The network namespace of a node, a host of the underlay (outside, control-plane) or a pod. */
function targetNetns(dir: string, target: string): string {
  const state = requireState(resolve(dir));
  const node = state.plan.nodes.find((n) => n.name === target);
  if (node) return node.netns;
  if (target === 'outside' && state.outside) return state.outside.netns;
  const host = state.kube?.hosts.find((h) => h.name === target);
  if (host) return host.netns;
  if (target.includes('/')) {
    const [namespace, name] = target.split('/');
    const pods = state.kube ? kubeSandboxes(state) : state.pods;
    const pod = pods.find((p) => p.namespace === namespace && p.name === name);
    if (pod) return pod.netns;
    throw new LabError(`lab exec: no pod ${target} runs in the lab`);
  }
  const hosts = new Set([
    ...(state.outside ? ['outside'] : []),
    ...(state.kube?.hosts.map((h) => h.name) ?? []),
  ]);
  const known = [...state.plan.nodes.map((n) => n.name), ...hosts];
  throw new LabError(`lab exec: "${target}" is not a node, host (${known.join(', ')}) or NAMESPACE/POD`);
}

export function labExec(dir: string, args: readonly string[]): Promise<number> {
  const [target, ...rest] = args;
  const command = rest[0] === '--' ? rest.slice(1) : rest;
  if (!target || command.length === 0) throw new LabError('usage: lab exec NODE|outside|NS/POD -- CMD...');
  return runAttached(command, { netns: `/run/netns/${targetNetns(dir, target)}` });
}

/** `lab kubelet --node N`: started by `lab up` inside the node's netns; runs until SIGTERM. */
export async function runLabKubelet(deps: LabDeps, dir: string, node: string): Promise<void> {
  const { state, paths } = requireKubeState(dir);
  const api = createKubeRest(paths.kubeconfigOf(node));
  const kubelet = new LabKubelet({ ...deps, api }, state, node);
  const stopping = new Promise<void>((r) => {
    process.once('SIGTERM', r);
    process.once('SIGINT', r);
  });
  await kubelet.start();
  await stopping;
  await kubelet.stop();
}

/**
 * `lab component stop|start NAME`: stops or starts one program of the control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler), to see what the nodes do without it. Start waits for the API
 * server to be ready when it starts the API server.
 */
export async function labComponent(dir: string, action: string, name: string): Promise<void> {
  if (!COMPONENTS.includes(name as Component)) {
    throw new LabError(`lab component: "${name}" is not one of ${COMPONENTS.join(', ')}`);
  }
  const component = name as Component;
  const abs = resolve(dir);
  await withLabLock(abs, async () => {
    const { state, kube, paths } = requireKubeState(abs);
    const pids = { ...kube.controlPlane.pids };
    const running = pids[component];
    if (action === 'stop') {
      if (running) await stopComponent(paths, running);
      delete pids[component];
    } else if (action === 'start') {
      if (running) throw new LabError(`lab component: ${component} runs already (PID ${running})`);
      const cp = kube.hosts.find((h) => h.name === 'control-plane')!;
      pids[component] = startComponent(paths, cp, kube.controlPlane.bin, component);
    } else {
      throw new LabError(`lab component: "${action}" must be stop or start`);
    }
    saveState({ ...state, kube: { ...kube, controlPlane: { ...kube.controlPlane, pids } } });
    if (action === 'start' && component === 'kube-apiserver')
      await waitForApiServer(paths.adminKubeconfig, 90_000);
  });
}
