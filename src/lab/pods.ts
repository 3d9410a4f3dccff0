// One lab pod: a network namespace wired by the node's CNI plugin exactly as a runtime does, plus a pod server
// that serves the pod's declared ports. Removal undoes each step; "already gone" is fine.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addNetworkList, delNetworkList, loadNetworkList, type RuntimeConf } from '../cni/invoke.js';
import { isNotFound, type Runner, startDetached } from '../dataplane/runner.js';
import type { PodObject } from '../model/k8s.js';
import { fnv1a32 } from '../util/hash.js';
import type { Logger } from '../util/log.js';
import { nodePaths } from './node-files.js';
import { podNetnsName } from './plan.js';
import type { PortSpec } from './pod-server-config.js';
import { waitForPodServer } from './probe.js';
import { stopProcess } from './processes.js';
import type { LabState, PodState } from './state.js';

/**
 * Run in every netns of the lab that answers probes: the kernel rate-limits ICMP errors (port unreachable among
 * them) per destination, ~1/s after a burst of 6, and a refused UDP probe whose answer was rate-limited away
 * would read as dropped. The lab's probes must tell the two apart every time.
 */
export const SYSCTL_NO_ICMP_RATELIMIT = ['sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0'] as const;

export interface PodDeps {
  readonly runner: Runner;
  readonly log: Logger;
  /** The built pod server bundle (dist/pod-server.cjs). */
  readonly podServer: string;
}

/** A pod's files: its server's config, control socket and log (one set per namespace/name at a time). */
export function podFiles(dir: string, namespace: string, name: string) {
  const base = join(dir, 'pods', fnv1a32(`${namespace}/${name}`));
  return { config: `${base}.json`, socket: `${base}.sock`, log: `${base}.log` };
}

function runtimeConf(
  state: LabState,
  pod: { namespace: string; name: string; node: string; uid?: string },
  containerID: string,
  netns: string,
): RuntimeConf {
  const node = state.plan.nodes.find((n) => n.name === pod.node)!;
  const paths = nodePaths(state.dir, node.name);
  return {
    containerID,
    netns: netns ? `/run/netns/${netns}` : '',
    ifname: 'eth0',
    args: {
      IgnoreUnknown: '1',
      K8S_POD_NAMESPACE: pod.namespace,
      K8S_POD_NAME: pod.name,
      K8S_POD_INFRA_CONTAINER_ID: containerID,
      ...(pod.uid ? { K8S_POD_UID: pod.uid } : {}),
    },
    binDirs: [paths.binDir],
    hostNetns: `/run/netns/${node.netns}`,
    cacheDir: paths.resultsDir,
  };
}

function serverEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS; // ~45 ms per Node start on these machines
  return env;
}

/** What the lab needs of a pod to run it; `uid` when the pod comes from an API server (CNI_ARGS K8S_POD_UID). */
export type PodToRun = Pick<PodObject, 'namespace' | 'name' | 'labels' | 'ports'> & { readonly uid?: string };

export async function addPod(deps: PodDeps, state: LabState, pod: PodToRun, node: string): Promise<PodState> {
  const netns = podNetnsName(state.plan.prefix, pod.namespace, pod.name);
  const containerID = randomBytes(32).toString('hex');
  const rt = runtimeConf(state, { ...pod, node }, containerID, netns);
  const list = loadNetworkList(nodePaths(state.dir, node).confDir);
  await deps.runner.run(['ip', 'netns', 'add', netns]);
  let wired = false;
  try {
    await deps.runner.run(['ip', '-n', netns, 'link', 'set', 'lo', 'up']); // the runtime's loopback step
    await deps.runner.run([...SYSCTL_NO_ICMP_RATELIMIT], { netns: `/run/netns/${netns}` });
    const result = await addNetworkList(deps.runner, list, rt);
    wired = true;
    const ips = (result.ips ?? []) as { address: string }[];
    const ip = ips[0]?.address.split('/')[0];
    if (!ip) throw new Error(`CNI ADD for ${pod.namespace}/${pod.name} returned no address`);
    const files = podFiles(state.dir, pod.namespace, pod.name);
    const serverPid = startPodServer(deps, state.dir, pod, netns);
    const podState: PodState = {
      namespace: pod.namespace,
      name: pod.name,
      node,
      netns,
      containerID,
      ifname: 'eth0',
      ip,
      labels: pod.labels,
      ports: pod.ports,
      serverPid,
      controlSocket: files.socket,
      ...(pod.uid ? { uid: pod.uid } : {}),
    };
    return await serving(deps, state, podState);
  } catch (err) {
    if (wired)
      await delNetworkList(deps.runner, list, rt).catch((e: unknown) =>
        deps.log.warn({ err: e }, 'DEL after failed ADD failed'),
      );
    await deleteNetns(deps.runner, netns);
    throw err;
  }
}

/** Starts the pod's server in `netns`, serving its declared ports; returns its PID. */
export function startPodServer(deps: PodDeps, dir: string, pod: PodToRun, netns: string): number {
  const files = podFiles(dir, pod.namespace, pod.name);
  mkdirSync(join(dir, 'pods'), { recursive: true });
  const ports = pod.ports.map((p) => ({ name: p.name, port: p.containerPort, protocol: p.protocol }));
  return startLabServer(deps, { id: `${pod.namespace}/${pod.name}`, files, ports, netns });
}

/**
 * Starts a pod server (dist/pod-server.cjs) in `netns` that answers as `id` on `ports` and probes on request;
 * returns its PID. Its config file's path is in its command line, which is how it is told from a reused PID.
 */
export function startLabServer(
  deps: Pick<PodDeps, 'podServer'>,
  opts: {
    readonly id: string;
    readonly files: { readonly config: string; readonly socket: string; readonly log: string };
    readonly ports: readonly PortSpec[];
    readonly netns: string;
    /** Serve on each of these rather than on the wildcard (pod-server-config.ts). */
    readonly addresses?: readonly string[];
  },
): number {
  const { id, files, ports, netns, addresses } = opts;
  const config = { id, controlSocket: files.socket, ports, ...(addresses ? { addresses } : {}) };
  writeFileSync(files.config, JSON.stringify(config));
  return startDetached(
    ['nsenter', `--net=/run/netns/${netns}`, process.execPath, deps.podServer, files.config],
    { logFile: files.log, env: serverEnv() },
  );
}

/**
 * A hostNetwork pod: no netns of its own and no CNI call; its server runs in the node's netns and the pod's
 * address is the node's.
 */
export async function addHostNetworkPod(
  deps: PodDeps,
  state: LabState,
  pod: PodToRun,
  node: string,
): Promise<PodState> {
  const plan = state.plan.nodes.find((n) => n.name === node);
  if (!plan) throw new Error(`pod ${pod.namespace}/${pod.name}: node ${node} is not in the lab`);
  const files = podFiles(state.dir, pod.namespace, pod.name);
  const podState: PodState = {
    namespace: pod.namespace,
    name: pod.name,
    node,
    netns: plan.netns,
    containerID: randomBytes(32).toString('hex'),
    ifname: '',
    ip: plan.underlayIP,
    labels: pod.labels,
    ports: pod.ports,
    serverPid: startPodServer(deps, state.dir, pod, plan.netns),
    controlSocket: files.socket,
    hostNetwork: true,
    ...(pod.uid ? { uid: pod.uid } : {}),
  };
  return serving(deps, state, podState);
}

/** The pod once its server answers; a pod whose server never does is removed again. */
async function serving(deps: PodDeps, state: LabState, pod: PodState): Promise<PodState> {
  try {
    await waitForPodServer(pod.controlSocket, 10_000);
  } catch (err) {
    await removePod(deps, state, pod);
    throw err;
  }
  return pod;
}

export async function deleteNetns(runner: Runner, name: string): Promise<void> {
  try {
    await runner.run(['ip', 'netns', 'del', name]);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Stops the server, runs CNI DEL (the plugin releases the address and the veth), deletes the netns and files. */
export async function removePod(deps: PodDeps, state: LabState, pod: PodState): Promise<void> {
  const files = podFiles(state.dir, pod.namespace, pod.name);
  await stopProcess(pod.serverPid, files.config);
  if (pod.hostNetwork) {
    for (const f of Object.values(files)) rmSync(f, { force: true });
    return; // the node's own netns: nothing was wired
  }
  const rt = runtimeConf(state, pod, pod.containerID, pod.netns);
  await delNetworkList(deps.runner, loadNetworkList(nodePaths(state.dir, pod.node).confDir), rt);
  await deleteNetns(deps.runner, pod.netns);
  for (const f of Object.values(files)) rmSync(f, { force: true });
}
