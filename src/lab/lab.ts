// The lab's operations: up, apply, delete, status, probe, down. State lives in the lab directory so separate
// commands work on the same lab; a lock serialises them. Nothing touches the root network namespace.

import { existsSync, rmdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stopLeftoverCharon } from '../dataplane/ipsec.js';
import type { Runner } from '../dataplane/runner.js';
import { podKey } from '../model/k8s.js';
import { agentPaths, stopNodeAgent, waitForAgent } from './agents.js';
import { writeObject, writeRevision } from './cluster-dir.js';
import { stopHostServers } from './host-servers.js';
import { kubeLabUp, kubeSandboxes, stopKubeProcesses, wireUnderlay } from './kube/kube-lab.js';
import { kubeProbePods, kubeStatusPods } from './kube/kube-status.js';
import { nodeLabels } from './kube/kubelet-objects.js';
import { hostPlans } from './kube/plan.js';
import { startLabAgent } from './lab-agents.js';
import { inParallel, type LabDeps, LabError, requireState } from './lab-common.js';
import { routeOutsideToPods, startProbeServers, wireOutside } from './lab-outside.js';
import { nodePaths, writeNodeFiles } from './node-files.js';
import { outsideIps, planOutsideAddresses } from './outside.js';
import { nodeRoutesScript, planLab, tunnelIfaceOf } from './plan.js';
import { deleteNetns, removePod } from './pods.js';
import { type Matrix, type ProbeOptions, probeMatrix } from './probe.js';
import { stopProcess } from './processes.js';
import { type LabEncryption, type LabState, loadState, saveState, statePath, withLabLock } from './state.js';

async function netnsWithPrefix(runner: Runner, prefix: string): Promise<string[]> {
  const { stdout } = await runner.run(['ip', 'netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
}

/** Where the lab's cluster state lives: a watched directory (fast, embedded) or a real control plane. */
export type ControlPlaneKind = 'dir' | 'kubernetes';

export async function labUp(
  deps: LabDeps,
  opts: {
    dir: string;
    nodes: number;
    controlPlane?: ControlPlaneKind;
    outsideAddresses?: readonly string[];
    /** Kubernetes only: the agents keep their node's HostEndpoint, with these extra labels (KEY=VALUE). */
    hostEndpointLabels?: readonly string[];
    encryption?: LabEncryption;
  },
): Promise<LabState> {
  const dir = resolve(opts.dir);
  const addresses = planOutsideAddresses(opts.outsideAddresses);
  return withLabLock(dir, async () => {
    if (existsSync(statePath(dir)))
      throw new LabError(`a lab is already up in ${dir} (\`palisade lab down --dir ${dir}\`)`);
    const plan = planLab(dir, opts.nodes);
    const leftovers = await netnsWithPrefix(deps.runner, plan.prefix);
    if (leftovers.length > 0) {
      throw new LabError(
        `network namespaces of an earlier lab in ${dir} still exist (${leftovers.join(', ')}); run \`palisade lab down --dir ${dir}\``,
      );
    }
    let state: LabState = {
      version: 1,
      dir,
      plan,
      namespaces: { default: { 'kubernetes.io/metadata.name': 'default' } },
      pods: [],
      policies: [],
      revision: 1,
      agents: {},
      ...(opts.hostEndpointLabels ? { hostEndpointLabels: opts.hostEndpointLabels } : {}),
      ...(opts.encryption ? { encryption: opts.encryption } : {}),
    };
    const kube = opts.controlPlane === 'kubernetes';
    if (opts.hostEndpointLabels && !kube)
      throw new LabError(
        '--host-endpoint-label needs --control-plane kubernetes (the agents create HostEndpoints)',
      );
    // The control plane's host only with a control plane; the outside host always.
    const hosts = hostPlans(plan.prefix).filter((h) => kube || h.name === 'outside');
    const outsideHost = hosts.find((h) => h.name === 'outside')!;
    try {
      saveState(state);
      await wireUnderlay(deps, plan, hosts);
      state = { ...state, outside: await wireOutside(deps, plan, outsideHost, addresses) };
      state = await startProbeServers(deps, state);
      if (kube) {
        const up = await kubeLabUp(deps, state);
        await routeOutsideToPods(deps, up.plan, up.outside!);
        return up;
      }
      return await dirLabUp(deps, state);
    } catch (err) {
      await teardown(deps, dir, plan.prefix);
      throw err;
    }
  });
}

/** The rest of `lab up` without a control plane: pod routes, node files, the cluster directory, the agents. */
async function dirLabUp(deps: LabDeps, state: LabState): Promise<LabState> {
  const { dir, plan } = state;
  for (const node of plan.nodes) {
    await deps.runner.run(['ip', '-batch', '-'], {
      netns: `/run/netns/${node.netns}`,
      input: nodeRoutesScript(plan, node),
    });
    writeNodeFiles(dir, node, deps, state.encryption);
    writeObject(dir, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: node.name, labels: nodeLabels(node.name) },
      spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] },
      status: { addresses: [{ type: 'InternalIP', address: node.underlayIP }] },
    });
  }
  await routeOutsideToPods(deps, plan, state.outside!);
  writeObject(dir, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  writeRevision(dir, state.revision);
  const agents = Object.fromEntries(
    plan.nodes.map((node) => [node.name, startLabAgent(state, node.name, deps.cliEntry)]),
  );
  const next = { ...state, agents };
  saveState(next);
  await Promise.all(
    plan.nodes.map((n) => waitForAgent(agentPaths(dir, n.name).statusSocket, state.revision, 20_000)),
  );
  return next;
}

/** The hosts beside the nodes: the control plane's (with one), and the outside host with all its addresses. */
function statusHosts(state: LabState) {
  const hosts: { name: string; underlayIP: string; addresses?: string[] }[] = [];
  const cp = state.kube?.hosts.find((h) => h.name === 'control-plane');
  if (cp) hosts.push({ name: cp.name, underlayIP: cp.ip });
  const out = state.outside ?? state.kube?.hosts.find((h) => h.name === 'outside');
  if (out) {
    const addresses = state.outside ? outsideIps(state.outside.addresses) : [out.ip];
    hosts.push({ name: 'outside', underlayIP: out.ip, addresses });
  }
  return hosts;
}

export async function labStatus(dirIn: string) {
  const state = requireState(resolve(dirIn));
  const nodes = state.plan.nodes.map((n) => ({ name: n.name, underlayIP: n.underlayIP, podCIDR: n.podCIDR }));
  const hosts = statusHosts(state);
  if (state.kube) return { nodes, hosts, pods: await kubeStatusPods(state) };
  return {
    nodes,
    hosts,
    pods: state.pods.map((p) => ({
      namespace: p.namespace,
      name: p.name,
      node: p.node,
      ip: p.ip,
      labels: { ...p.labels },
    })),
  };
}

/** SCTP needs the kernel's SCTP stack (CONFIG_IP_SCTP); without it every probe would fail, so say why. */
export function sctpAvailable(): boolean {
  return existsSync('/proc/sys/net/sctp');
}

export async function labProbe(dirIn: string, opts: ProbeOptions): Promise<Matrix> {
  const state = requireState(resolve(dirIn));
  if (opts.protocol === 'SCTP' && !sctpAvailable()) {
    throw new LabError(
      'cannot probe SCTP: this kernel has no SCTP support (CONFIG_IP_SCTP), so no pod can serve it',
    );
  }
  const pods = state.kube
    ? kubeProbePods(state)
    : state.pods.map((p) => ({ key: podKey(p), ip: p.ip, controlSocket: p.controlSocket }));
  return (await probeMatrix(pods, opts)).matrix;
}

async function teardown(deps: LabDeps, dir: string, prefix: string): Promise<string[]> {
  const problems: string[] = [];
  const state = loadState(dir);
  if (state) {
    // Kubelets first (they would wire pods again), then pods, agents, and the control plane last.
    const kube = state.kube;
    if (kube) for (const pid of Object.values(kube.kubelets)) await stopProcess(pid, dir);
    const pods = [...state.pods, ...(kube ? kubeSandboxes(state) : [])];
    await inParallel(pods, 8, (p) => removePod(deps, state, p)).catch((e: unknown) =>
      problems.push(String(e)),
    );
    for (const pid of Object.values(state.agents ?? {})) await stopNodeAgent(dir, pid);
    // An agent that died hard leaves wireguard-go or charon running in its node: wireguard-go exits once its
    // interface is gone, charon is stopped by the PID it recorded.
    if (state.encryption === 'ipsec')
      for (const node of state.plan.nodes) await stopLeftoverCharon(nodePaths(dir, node.name).ipsecDir);
    if (state.encryption === 'wireguard')
      for (const node of state.plan.nodes)
        await deps.runner
          .run(['ip', 'link', 'del', tunnelIfaceOf(node)], { netns: `/run/netns/${node.netns}` })
          .catch(() => undefined); // none: the agent removed it

    if (state.hostServers) await stopHostServers(dir, state.hostServers);
    if (kube) await stopKubeProcesses(dir, kube);
  }
  for (const ns of await netnsWithPrefix(deps.runner, prefix)) {
    await deleteNetns(deps.runner, ns).catch((e: unknown) => problems.push(String(e)));
  }
  for (const sub of ['nodes', 'pods', 'hosts', 'cluster', 'kube', 'lab.json'])
    rmSync(join(dir, sub), { recursive: true, force: true });
  return problems;
}

/** Removes every namespace, veth, process and file the lab made, even after a half-finished `up`. */
export async function labDown(deps: LabDeps, dirIn: string): Promise<void> {
  const dir = resolve(dirIn);
  await withLabLock(dir, async () => {
    const state = loadState(dir);
    const prefix = state?.plan.prefix ?? planLab(dir, 1).prefix;
    const problems = await teardown(deps, dir, prefix);
    if (problems.length > 0) deps.log.warn({ problems }, 'lab down: some resources needed a second attempt');
    deps.log.info({ dir }, 'lab down');
  });
  try {
    rmdirSync(dir); // only if the lab left it empty: files of others stay
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'ENOENT') throw err;
  }
}
