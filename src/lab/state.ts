// The lab's state file (<dir>/lab.json) and the lock that serialises lab commands on one directory.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerPort } from '../model/k8s.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { HostServerState } from './host-servers.js';
import type { ControlPlaneState } from './kube/control-plane.js';
import type { HostPlan } from './kube/plan.js';
import type { OutsideAddress } from './outside.js';
import type { LabPlan } from './plan.js';

export interface PodState {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly netns: string;
  readonly containerID: string;
  readonly ifname: string;
  readonly ip: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: readonly ContainerPort[];
  readonly serverPid: number;
  readonly controlSocket: string;
  /** The API's metadata.uid (real control plane only). */
  readonly uid?: string;
  /** Runs in the node's netns with the node's address (spec.hostNetwork). */
  readonly hostNetwork?: boolean;
}

export interface LabState {
  readonly version: 1;
  readonly dir: string;
  readonly plan: LabPlan;
  readonly namespaces: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly pods: readonly PodState[];
  /** NetworkPolicies applied, as namespace/name (so deleting a namespace deletes its policies). */
  readonly policies: readonly string[];
  /** The cluster directory's revision; every agent reports the one it has programmed. */
  readonly revision: number;
  /** Node name → PID of its agent. */
  readonly agents: Readonly<Record<string, number>>;
  /** With `--control-plane kubernetes`: the control plane and what runs on each node besides the agent. */
  readonly kube?: KubeLabState;
  /** The outside host (either kind of lab; absent in a lab made before it existed). */
  readonly outside?: OutsideState;
  /**
   * `lab up --host-endpoint-label` (kubernetes): the agents keep their node's HostEndpoint with these extra labels
   * (KEY=VALUE); absent: the controller is off.
   */
  readonly hostEndpointLabels?: readonly string[];
  /** `lab up --encryption wireguard`: the agents encrypt between nodes (strict); absent: off. */
  readonly encryption?: LabEncryption;
  /** The probe servers of the nodes and of the outside host, by name (`lab probe --from NODE|outside`). */
  readonly hostServers?: Readonly<Record<string, HostServerState>>;
}

export type LabEncryption = 'wireguard' | 'ipsec';

export interface OutsideState {
  readonly netns: string;
  /** Its own address on the underlay (OUTSIDE_IP). */
  readonly ip: string;
  readonly uplink: string;
  /** Its extra addresses (`lab up --outside-address`, and the defaults). */
  readonly addresses: readonly OutsideAddress[];
}

export interface KubeLabState {
  readonly hosts: readonly HostPlan[];
  readonly controlPlane: ControlPlaneState;
  /** Node name → PID of its lab kubelet, and of its kube-proxy. */
  readonly kubelets: Readonly<Record<string, number>>;
  readonly proxies: Readonly<Record<string, number>>;
}

export function statePath(dir: string): string {
  return join(dir, 'lab.json');
}

export function loadState(dir: string): LabState | undefined {
  const p = statePath(dir);
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, 'utf8')) as LabState;
}

export function saveState(state: LabState): void {
  mkdirSync(state.dir, { recursive: true });
  const p = statePath(state.dir);
  writeFileAtomic(p, `${JSON.stringify(state, null, 2)}\n`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs fn holding <dir>/lab.lock (O_EXCL create, our PID inside). A lock whose holder is dead is taken over;
 * a live holder makes the command wait, up to timeoutMs.
 */
export async function withLabLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'lab.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(lock, 'utf8').trim());
      if (!holder || !pidAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`lab ${dir} is locked by process ${holder}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}
