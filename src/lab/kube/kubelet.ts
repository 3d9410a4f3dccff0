// The lab's kubelet for one node (lab code, not product code): registers the Node and keeps it Ready with a
// Lease, watches the pods bound to it, wires each exactly as kubelet → CRI → libcni would (a netns, CNI ADD
// with the pod's namespace, name and UID), starts its pod server, and reports its status. A pod being deleted
// is stopped, gets CNI DEL, and is then removed with grace 0, as a kubelet confirms a deletion.
//
// Sandboxes are recorded in <node dir>/kubelet.json, so a restarted kubelet tears down the sandboxes of pods
// the API no longer has and wires the pods it has not wired yet.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeApiError } from '../../datastore/kube-client.js';
import { HttpMethod, type KubeRest } from '../../datastore/kube-rest.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import type { Logger } from '../../util/log.js';
import { nodePaths } from '../node-files.js';
import type { NodePlan } from '../plan.js';
import { addHostNetworkPod, addPod, type PodDeps, removePod } from '../pods.js';
import type { LabState, PodState } from '../state.js';
import {
  type BoundPod,
  boundPod,
  LEASE_RENEW_MS,
  leaseObject,
  leaseTime,
  nodeObject,
  nodeStatus,
  runningPodStatus,
} from './kubelet-objects.js';

const MAX_PARALLEL_PODS = 8;
const STATUS_REFRESH_MS = 60_000;
const NETWORK_CHECK_MS = 500;

export function kubeletStatePath(labDir: string, node: string): string {
  return join(nodePaths(labDir, node).root, 'kubelet.json');
}

/** The sandboxes a node's kubelet runs, by pod UID. */
export function loadSandboxes(labDir: string, node: string): Record<string, PodState> {
  const p = kubeletStatePath(labDir, node);
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as Record<string, PodState>) : {};
}

const podPath = (ns: string, name: string) =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;

const isCode = (err: unknown, code: number) => err instanceof KubeApiError && err.statusCode === code;

export class LabKubelet {
  private readonly sandboxes: Map<string, PodState>;
  private readonly desired = new Map<string, BoundPod>();
  private readonly queued = new Set<string>();
  private readonly busy = new Set<string>();
  private running = 0;
  private stopped = false;
  private watch?: AbortController;
  private readonly timers: NodeJS.Timeout[] = [];
  private nodeUid = '';
  private networkReady = false;
  private readySince = new Date();
  private lastStatus = 0;
  private readonly log: Logger;
  private readonly node: NodePlan;

  constructor(
    private readonly deps: PodDeps & { api: KubeRest },
    private readonly state: LabState,
    nodeName: string,
  ) {
    const node = state.plan.nodes.find((n) => n.name === nodeName);
    if (!node) throw new Error(`kubelet: node ${nodeName} is not in the lab`);
    this.node = node;
    this.log = deps.log.child({ component: 'kubelet', node: nodeName });
    this.sandboxes = new Map(Object.entries(loadSandboxes(state.dir, nodeName)));
  }

  async start(): Promise<void> {
    await this.register();
    await this.renewLease();
    this.timers.push(setInterval(() => void this.heartbeat(), LEASE_RENEW_MS));
    // The CNI config appearing (or going) is news at once, as for a kubelet's runtime status.
    this.timers.push(setInterval(() => void this.networkCheck(), NETWORK_CHECK_MS));
    await this.listAndWatch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.watch?.abort();
    while (this.running > 0) await new Promise((r) => setTimeout(r, 20));
  }

  private confExists(): boolean {
    return existsSync(join(nodePaths(this.state.dir, this.node.name).confDir, '10-palisade.conflist'));
  }

  private async register(): Promise<void> {
    const { api } = this.deps;
    try {
      await api.request({
        method: HttpMethod.POST,
        path: '/api/v1/nodes',
        body: nodeObject(this.node.name, this.node.podCIDR),
      });
      this.log.info({ node: this.node.name }, 'node registered');
    } catch (err) {
      if (!isCode(err, 409)) throw err;
    }
    await this.postStatus();
  }

  private async postStatus(): Promise<void> {
    const ready = this.confExists();
    if (ready !== this.networkReady) this.readySince = new Date();
    this.networkReady = ready;
    const node = await this.deps.api.request({
      method: HttpMethod.PATCH,
      path: `/api/v1/nodes/${this.node.name}/status`,
      patch: 'strategic',
      body: nodeStatus({
        name: this.node.name,
        ip: this.node.underlayIP,
        networkReady: ready,
        now: new Date(),
        since: this.readySince,
      }),
    });
    const meta = node.metadata as { uid?: string } | undefined;
    this.nodeUid = meta?.uid ?? this.nodeUid;
    this.lastStatus = Date.now();
  }

  /** The Lease every heartbeat; the Node's status when it is a minute old (a change is posted at once). */
  private async heartbeat(): Promise<void> {
    try {
      await this.renewLease();
      if (Date.now() - this.lastStatus > STATUS_REFRESH_MS) await this.postStatus();
    } catch (err) {
      this.log.warn({ err }, 'heartbeat failed');
    }
  }

  private async networkCheck(): Promise<void> {
    if (this.confExists() === this.networkReady) return;
    try {
      await this.postStatus();
    } catch (err) {
      this.log.warn({ err }, 'node status update failed');
    }
  }

  private async renewLease(): Promise<void> {
    const { api } = this.deps;
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.node.name}`;
    try {
      await api.request({
        method: HttpMethod.PATCH,
        path,
        body: { spec: { holderIdentity: this.node.name, renewTime: leaseTime(new Date()) } },
      });
    } catch (err) {
      if (!isCode(err, 404)) throw err;
      await api.request({
        method: HttpMethod.POST,
        path: '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
        body: leaseObject(this.node.name, this.nodeUid, new Date()),
      });
    }
  }

  /** LIST then WATCH the node's pods; a 410 or a broken watch lists again. */
  private async listAndWatch(): Promise<void> {
    const selector = `spec.nodeName=${this.node.name}`;
    const list = await this.deps.api.request({
      method: HttpMethod.GET,
      path: `/api/v1/pods?fieldSelector=${encodeURIComponent(selector)}`,
    });
    const items = Array.isArray(list.items) ? (list.items as Record<string, unknown>[]) : [];
    this.desired.clear();
    for (const item of items) {
      const pod = boundPod(item);
      this.desired.set(pod.uid, pod);
    }
    // Sandboxes of pods the API no longer has (a restart missed their deletion) and pods not yet wired.
    for (const uid of new Set([...this.desired.keys(), ...this.sandboxes.keys()])) this.enqueue(uid);
    let resourceVersion = String(
      (list.metadata as { resourceVersion?: string } | undefined)?.resourceVersion,
    );
    const rewatch = (relist: boolean, delayMs: number) => {
      if (this.stopped) return;
      const t = setTimeout(() => {
        const next = relist
          ? this.listAndWatch()
          : this.watchFrom(selector, resourceVersion, rewatch, (rv) => {
              resourceVersion = rv;
            });
        next.catch((err: unknown) => {
          this.log.warn({ err }, 'pods list or watch failed; retrying');
          rewatch(true, 1000);
        });
      }, delayMs);
      this.timers.push(t);
    };
    await this.watchFrom(selector, resourceVersion, rewatch, (rv) => {
      resourceVersion = rv;
    });
  }

  private async watchFrom(
    selector: string,
    resourceVersion: string,
    rewatch: (relist: boolean, delayMs: number) => void,
    seen: (rv: string) => void,
  ): Promise<void> {
    let gone = false;
    this.watch = await this.deps.api.watch(
      '/api/v1/pods',
      { fieldSelector: selector, resourceVersion },
      ({ type, object }) => {
        const rv = (object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
        if (type === 'ERROR') {
          gone = (object as { code?: number }).code === 410;
          return;
        }
        if (rv) seen(rv);
        if (type === 'BOOKMARK') return;
        const pod = boundPod(object);
        if (type === 'DELETED') this.desired.delete(pod.uid);
        else this.desired.set(pod.uid, pod);
        this.enqueue(pod.uid);
      },
      (err) => {
        if (this.stopped) return;
        if (err) this.log.warn({ err }, 'pods watch ended');
        rewatch(gone || isCode(err, 410), err ? 1000 : 0);
      },
    );
  }

  private enqueue(uid: string): void {
    this.queued.add(uid);
    this.pump();
  }

  private pump(): void {
    for (const uid of [...this.queued]) {
      if (this.running >= MAX_PARALLEL_PODS || this.stopped) return;
      if (this.busy.has(uid)) continue;
      this.queued.delete(uid);
      this.busy.add(uid);
      this.running++;
      void this.syncPod(uid)
        .catch((err: unknown) => {
          this.log.error({ err, uid }, 'pod sync failed; retrying');
          const t = setTimeout(() => this.enqueue(uid), 2000);
          this.timers.push(t);
        })
        .finally(() => {
          this.busy.delete(uid);
          this.running--;
          this.pump();
        });
    }
  }

  private saveSandboxes(): void {
    writeFileAtomic(
      kubeletStatePath(this.state.dir, this.node.name),
      `${JSON.stringify(Object.fromEntries(this.sandboxes), null, 2)}\n`,
    );
  }

  /** Brings one pod's sandbox in line with the API: run it, or tear it down and confirm the deletion. */
  private async syncPod(uid: string): Promise<void> {
    const pod = this.desired.get(uid);
    const sandbox = this.sandboxes.get(uid);
    const finished = pod?.phase === 'Succeeded' || pod?.phase === 'Failed';
    if (!pod || pod.deleting || finished) {
      if (sandbox) {
        await removePod(this.deps, this.state, sandbox);
        this.sandboxes.delete(uid);
        this.saveSandboxes();
        this.log.info({ pod: `${sandbox.namespace}/${sandbox.name}` }, 'pod stopped');
      }
      if (pod?.deleting) await this.confirmDeletion(pod);
      return;
    }
    if (sandbox) return;
    const sameName = [...this.sandboxes.values()].some(
      (s) => s.namespace === pod.namespace && s.name === pod.name,
    );
    if (!this.networkReady || sameName) {
      // As a kubelet without CNI config, the pod waits; a new pod of the same name waits for the old sandbox.
      const t = setTimeout(() => this.enqueue(uid), 500);
      this.timers.push(t);
      return;
    }
    const started = new Date();
    const run = pod.hostNetwork ? addHostNetworkPod : addPod;
    const ps = await run(this.deps, this.state, pod.run, this.node.name);
    this.sandboxes.set(uid, ps);
    this.saveSandboxes();
    try {
      await this.deps.api.request({
        method: HttpMethod.PATCH,
        path: `${podPath(pod.namespace, pod.name)}/status`,
        patch: 'strategic',
        body: runningPodStatus({
          pod,
          hostIP: this.node.underlayIP,
          podIP: ps.ip,
          containerID: ps.containerID,
          started,
        }),
      });
    } catch (err) {
      if (!isCode(err, 404)) throw err; // deleted meanwhile: its DELETED event tears the sandbox down
    }
    this.log.info({ pod: `${pod.namespace}/${pod.name}`, ip: ps.ip }, 'pod running');
  }

  private async confirmDeletion(pod: BoundPod): Promise<void> {
    try {
      await this.deps.api.request({
        method: HttpMethod.DELETE,
        path: podPath(pod.namespace, pod.name),
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          gracePeriodSeconds: 0,
          preconditions: { uid: pod.uid },
        },
      });
    } catch (err) {
      if (!isCode(err, 404) && !isCode(err, 409)) throw err;
    }
  }
}
