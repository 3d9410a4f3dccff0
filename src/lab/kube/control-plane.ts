// Starts and stops the lab's Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler in the control-plane host's netns on the underlay, and a forwarder that gives the machine's own
// shell the API server on a loopback port (root netns: 127.0.0.1:PORT → a unix socket → the API server; no
// address or route of the root netns changes).
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Runner } from '../../dataplane/runner.js';
import { startDetached } from '../../dataplane/runner.js';
import { createKubeRest } from '../../datastore/kube-rest.js';
import { formatCidr } from '../../model/cidr.js';
import type { Logger } from '../../util/log.js';
import { CLUSTER_POD_CIDR, NODE_POD_PREFIX, type NodePlan } from '../plan.js';
import { stopProcess } from '../processes.js';
import { kubeconfig } from './kubeconfig.js';
import { createPki } from './pki.js';
import {
  apiServerArgs,
  apiServerURL,
  clientIdentities,
  clientKubeconfig,
  controllerManagerArgs,
  etcdArgs,
  type HostPlan,
  KUBERNETES_SERVICE_IP,
  type KubePaths,
  schedulerArgs,
} from './plan.js';

/** What `lab down` needs to stop the control plane, and what `lab kubectl` needs to reach it. */
export interface ControlPlaneState {
  /** The directory of the pinned Kubernetes binaries (kube/build.sh). */
  readonly bin: string;
  /** The loopback port of the root netns that forwards to the API server. */
  readonly localPort: number;
  /** Component → PID. */
  readonly pids: Readonly<Record<string, number>>;
}

export interface ControlPlaneDeps {
  readonly runner: Runner;
  readonly log: Logger;
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
}

/** Kubeconfigs of every client identity (server on the underlay) and the admin's on loopback. */
function writeKubeconfigs(
  paths: KubePaths,
  cp: HostPlan,
  nodes: readonly NodePlan[],
  localPort: number,
): void {
  for (const id of clientIdentities(nodes)) {
    writeJson(paths.kubeconfigOf(id.file), clientKubeconfig(paths, id, apiServerURL(cp)));
  }
  writeJson(
    paths.adminKubeconfig,
    clientKubeconfig(paths, clientIdentities([])[0]!, `https://127.0.0.1:${localPort}`),
  );
}

/** The agents' kubeconfig: the ServiceAccount's token, re-read from its file. */
export function writeAgentKubeconfig(paths: KubePaths, cp: HostPlan): string {
  const path = paths.kubeconfigOf('palisade-agent');
  writeJson(
    path,
    kubeconfig({
      server: apiServerURL(cp),
      caFile: paths.pki.caCert,
      user: 'palisade-agent',
      credentials: { tokenFile: paths.agentToken },
    }),
  );
  return path;
}

export async function waitForApiServer(kubeconfigPath: string, timeoutMs: number): Promise<void> {
  const api = createKubeRest(kubeconfigPath);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if ((await api.text('/readyz')).trim() === 'ok') return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`the API server is not ready after ${timeoutMs} ms: ${String(last)}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function start(paths: KubePaths, name: string, netns: string | undefined, argv: readonly string[]): number {
  const env = { ...process.env };
  delete env.KUBECONFIG;
  return startDetached([...(netns ? ['nsenter', `--net=/run/netns/${netns}`] : []), ...argv], {
    logFile: join(paths.logs, `${name}.log`),
    env,
  });
}

/** The control plane's programs, each started in the control plane's netns. */
export const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type Component = (typeof COMPONENTS)[number];

function componentArgv(name: Component, paths: KubePaths, cp: HostPlan, bin: string): string[] {
  const args: Record<Component, () => string[]> = {
    etcd: () => etcdArgs(paths),
    'kube-apiserver': () => apiServerArgs(paths, cp),
    'kube-controller-manager': () =>
      controllerManagerArgs(paths, formatCidr(CLUSTER_POD_CIDR), NODE_POD_PREFIX),
    'kube-scheduler': () => schedulerArgs(paths),
  };
  return [join(bin, name), ...args[name]()];
}

/** Starts one component (again, after a stop: etcd's data directory is kept); returns its PID. */
export function startComponent(paths: KubePaths, cp: HostPlan, bin: string, name: Component): number {
  return start(paths, name, cp.netns, componentArgv(name, paths, cp, bin));
}

export function stopComponent(paths: KubePaths, pid: number): Promise<void> {
  return stopProcess(pid, paths.root);
}

export async function startControlPlane(
  deps: ControlPlaneDeps,
  opts: { paths: KubePaths; cp: HostPlan; nodes: readonly NodePlan[]; bin: string },
): Promise<ControlPlaneState> {
  const { paths, cp, bin } = opts;
  for (const d of [paths.root, paths.logs, paths.etcdData]) mkdirSync(d, { recursive: true, mode: 0o700 });
  await createPki(deps.runner, paths.pki.dir, {
    serverNames: ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'localhost'],
    serverIPs: [cp.ip, KUBERNETES_SERVICE_IP, '127.0.0.1'],
    clients: clientIdentities(opts.nodes),
  });
  const localPort = await freeLoopbackPort();
  writeKubeconfigs(paths, cp, opts.nodes, localPort);
  const pids: Record<string, number> = {
    etcd: startComponent(paths, cp, bin, 'etcd'),
    'kube-apiserver': startComponent(paths, cp, bin, 'kube-apiserver'),
  };
  // The forwarder: a hop inside the control plane's netns, and a loopback listener in the root netns. nodelay:
  // with Nagle on, every request on a kept-alive connection waited for a delayed ACK (a LIST of 3000 pods in
  // 30 pages: 1547 ms; with nodelay 237 ms).
  pids['forward-cp'] = start(paths, 'forward-cp', cp.netns, [
    'socat',
    `UNIX-LISTEN:${paths.apiSocket},fork,unlink-early,mode=600`,
    `TCP:${cp.ip}:6443,nodelay`,
  ]);
  pids['forward-local'] = start(paths, 'forward-local', undefined, [
    'socat',
    `TCP-LISTEN:${localPort},bind=127.0.0.1,fork,reuseaddr,nodelay`,
    `UNIX-CONNECT:${paths.apiSocket}`,
  ]);
  const state = { bin, localPort, pids };
  try {
    const t0 = Date.now();
    await waitForApiServer(paths.adminKubeconfig, 90_000);
    deps.log.info({ ms: Date.now() - t0 }, 'API server ready');
    pids['kube-controller-manager'] = startComponent(paths, cp, bin, 'kube-controller-manager');
    pids['kube-scheduler'] = startComponent(paths, cp, bin, 'kube-scheduler');
    return state;
  } catch (err) {
    await stopControlPlane(paths, state);
    throw err;
  }
}

/** Stops every component, the API server's clients first. */
export async function stopControlPlane(paths: KubePaths, state: ControlPlaneState): Promise<void> {
  const order = ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
  const rest = Object.keys(state.pids).filter((k) => !order.includes(k));
  for (const name of [...order, ...rest]) {
    const pid = state.pids[name];
    if (pid) await stopProcess(pid, paths.root);
  }
}
