// A real Kubernetes API server for one test file, without nodes (envtest's idea, with the pinned release of
// kube/): etcd, kube-apiserver, controller-manager and scheduler in a private netns (the control plane's
// address on that netns' loopback), reached from the test process through the lab's loopback forwarder.
// cleanup() stops every process and removes the netns and files, even after a failure.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { Runner } from '../../src/dataplane/runner.js';
import { kubeBinaries } from '../../src/lab/kube/binaries.js';
import {
  type Component,
  type ControlPlaneState,
  startComponent,
  startControlPlane,
  stopComponent,
  stopControlPlane,
  waitForApiServer,
} from '../../src/lab/kube/control-plane.js';
import { kubeconfig } from '../../src/lab/kube/kubeconfig.js';
import { type HostPlan, type KubePaths, kubePaths } from '../../src/lab/kube/plan.js';
import { createNullLogger } from '../../src/util/log.js';
import { createFixture, type Fixture, REPO, runner } from './netns.js';

const run = promisify(execFile);

export interface KubeApi {
  readonly fx: Fixture;
  readonly paths: KubePaths;
  /** Admin (system:masters), on the test process's loopback. */
  readonly adminKubeconfig: string;
  /** The API server's URL on the test process's loopback (the forwarder). */
  readonly server: string;
  /** kubectl as admin; resolves with stdout. */
  kubectl(...args: string[]): Promise<string>;
  /** `kubectl apply` of these objects (as one List). */
  apply(docs: readonly Record<string, unknown>[]): Promise<string>;
  /** Waits until a new namespace takes pods: the controller manager has made its default ServiceAccount. */
  namespaceReady(name: string): Promise<void>;
  /** A kubeconfig for a ServiceAccount's token (created, with a ClusterRole binding of `rules`). */
  serviceAccount(name: string, rules: readonly Record<string, unknown>[]): Promise<string>;
  stop(component: Component): Promise<void>;
  start(component: Component): Promise<void>;
  /** Compacts etcd's history up to its current revision (watches from before it answer 410). */
  compact(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startKubeApi(tag: string): Promise<KubeApi> {
  const fx = createFixture(tag);
  const log = createNullLogger();
  const paths = kubePaths(join(fx.tmp, 'api'));
  let state: ControlPlaneState | undefined;
  const netns = basename(await fx.netns('cp'));
  const cp: HostPlan = { name: 'control-plane', netns, ip: '198.18.0.2', uplink: 'lo', switchPort: '' };
  const cleanup = async () => {
    if (state) await stopControlPlane(paths, state);
    await fx.cleanup();
  };
  try {
    await runner.run(['ip', '-n', netns, 'addr', 'add', `${cp.ip}/32`, 'dev', 'lo']);
    const bin = await kubeBinaries(runner, log, join(REPO, 'kube', 'build.sh'));
    state = await startControlPlane({ runner, log }, { paths, cp, nodes: [], bin });
    const pids = { ...state.pids };
    const kubectl = async (...args: string[]) =>
      (
        await run(join(bin, 'kubectl'), [`--kubeconfig=${paths.adminKubeconfig}`, ...args], {
          maxBuffer: 1 << 26,
        })
      ).stdout;
    const server = `https://127.0.0.1:${state.localPort}`;
    let applied = 0;
    const apply = (docs: readonly Record<string, unknown>[]) => {
      const file = join(fx.tmp, `apply-${++applied}.json`);
      writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }));
      return kubectl('apply', '-f', file);
    };
    const api: KubeApi = {
      fx,
      paths,
      adminKubeconfig: paths.adminKubeconfig,
      server,
      kubectl,
      apply,
      async namespaceReady(name) {
        const deadline = Date.now() + 20_000;
        while (!(await kubectl('get', 'serviceaccounts', '-n', name, '-o', 'name')).includes('default')) {
          if (Date.now() > deadline)
            throw new Error(`namespace ${name}: no default ServiceAccount after 20 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      async serviceAccount(name, rules) {
        await apply([
          { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'default' } },
          { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules },
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRoleBinding',
            metadata: { name },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
            subjects: [{ kind: 'ServiceAccount', name, namespace: 'default' }],
          },
        ]);
        const token = join(fx.tmp, `${name}.token`);
        writeFileSync(token, (await kubectl('create', 'token', name, '--duration=1h')).trim());
        const path = join(fx.tmp, `${name}.kubeconfig`);
        writeFileSync(
          path,
          JSON.stringify(
            kubeconfig({
              server,
              caFile: paths.pki.caCert,
              user: name,
              credentials: { tokenFile: token },
            }),
          ),
        );
        return path;
      },
      async stop(component) {
        const pid = pids[component];
        if (pid) await stopComponent(paths, pid);
        delete pids[component];
        state = { ...state!, pids: { ...pids } };
      },
      async start(component) {
        pids[component] = startComponent(paths, cp, bin, component);
        state = { ...state!, pids: { ...pids } };
        if (component === 'kube-apiserver') await waitForApiServer(paths.adminKubeconfig, 90_000);
      },
      compact: () => compactEtcd(netns, kubectl),
      cleanup,
    };
    return api;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * A loopback forwarder inside `netns`: 127.0.0.1:`port` there to the API server's unix socket (reachable from
 * any netns), so the kubeconfig that works in the root netns works unchanged in `netns`. Its own process group
 * (socat forks per connection): stop it with process.kill(-pid).
 */
export async function startForwarder(
  runner: Runner,
  netns: string,
  port: number,
  socket: string,
): Promise<ChildProcess> {
  // nodelay: with Nagle on, each request on a kept-alive connection waited for a delayed ACK (~35 ms a page).
  const listen = `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr,nodelay`;
  // stderr ignored: a fork says "Broken pipe" as the agent's watches close; a forwarder that cannot listen is
  // caught below.
  const child = spawn('nsenter', [`--net=${netns}`, '--', 'socat', listen, `UNIX-CONNECT:${socket}`], {
    detached: true,
    stdio: 'ignore',
  });
  for (let i = 0; ; i++) {
    const { stdout } = await runner.run(['ss', '-Hltn', `sport = :${port}`], { netns });
    if (stdout.trim() !== '') return child;
    if (child.exitCode !== null || i > 100) {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      throw new Error(`socat on 127.0.0.1:${port} in ${netns}: not listening (exit ${child.exitCode})`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Compacts etcd's history up to its current revision (the resourceVersion of a fresh list), through etcd's v3
 * JSON gateway on the control plane's loopback: watches from before it answer 410.
 */
export async function compactEtcd(
  netns: string,
  kubectl: (...args: string[]) => Promise<string>,
): Promise<void> {
  const rv = (
    JSON.parse(await kubectl('get', 'namespaces', '-o', 'json')) as { metadata: { resourceVersion: string } }
  ).metadata.resourceVersion;
  const { stdout } = await runner.run(
    [
      'curl',
      '-sS',
      '-X',
      'POST',
      'http://127.0.0.1:2379/v3/kv/compaction',
      '-d',
      JSON.stringify({ revision: rv, physical: true }),
    ],
    { netns: `/run/netns/${netns}` },
  );
  if (/error/i.test(stdout)) throw new Error(`etcd compaction at ${rv}: ${stdout}`);
}
