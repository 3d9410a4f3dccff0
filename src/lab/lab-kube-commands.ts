// The lab commands that exist for the real control plane (kubeconfig, kubectl, the per-node kubelet) and
// `lab exec`, which works on either kind of lab.
import { resolve } from 'node:path';
import { runAttached } from '../dataplane/runner.js';
import { createKubeRest } from '../datastore/kube-rest.js';
import { kubeApply, kubeDelete } from './kube/kube-apply.js';
import { kubeSandboxes } from './kube/kube-lab.js';
import { kubectlArgv } from './kube/kubectl.js';
import { LabKubelet } from './kube/kubelet.js';
import { kubePaths } from './kube/plan.js';
import { type LabDeps, LabError, requireState } from './lab-common.js';
import { loadState, withLabLock } from './state.js';

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
  const host = state.kube?.hosts.find((h) => h.name === target);
  if (host) return host.netns;
  if (target.includes('/')) {
    const [namespace, name] = target.split('/');
    const pods = state.kube ? kubeSandboxes(state) : state.pods;
    const pod = pods.find((p) => p.namespace === namespace && p.name === name);
    if (pod) return pod.netns;
    throw new LabError(`lab exec: no pod ${target} runs in the lab`);
  }
  const known = [...state.plan.nodes.map((n) => n.name), ...(state.kube?.hosts.map((h) => h.name) ?? [])];
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
