// The probe servers of the lab's hosts, one per netns: each node's (answers as the node's name and serves no port
// of its own: a node's ports are its hostNetwork pods') and the outside host's (answers "outside", serves
// OUTSIDE_PORTS). `lab probe --from NODE|outside` has them make the connections from there. They are pod servers
// (dist/pod-server.cjs), started and stopped by PID like the pods'.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PortSpec } from './pod-server-config.js';
import { type PodDeps, startLabServer } from './pods.js';
import { waitForPodServer } from './probe.js';
import { stopProcess } from './processes.js';

export interface HostServerState {
  readonly netns: string;
  readonly pid: number;
  readonly controlSocket: string;
}

export interface HostToServe {
  /** The node's name, or "outside": the id the server answers with. */
  readonly name: string;
  readonly netns: string;
  readonly ports: readonly PortSpec[];
  /** Its addresses, when it has several (each port is served on each, so UDP answers from the one asked). */
  readonly addresses?: readonly string[];
}

const READY_MS = 10_000;

function hostServerFiles(dir: string, name: string) {
  const base = join(dir, 'hosts', name);
  return { config: `${base}.json`, socket: `${base}.sock`, log: `${base}.log` };
}

/** Starts one server per host; returns them by name at once (record them before waiting for them). */
export function startHostServers(
  deps: Pick<PodDeps, 'podServer'>,
  dir: string,
  hosts: readonly HostToServe[],
): Record<string, HostServerState> {
  mkdirSync(join(dir, 'hosts'), { recursive: true });
  return Object.fromEntries(
    hosts.map((h) => {
      const files = hostServerFiles(dir, h.name);
      const pid = startLabServer(deps, { id: h.name, files, ...h });
      return [h.name, { netns: h.netns, pid, controlSocket: files.socket }];
    }),
  );
}

/** Resolves once every server answers; a port it could not bind is an error (nothing else serves there). */
export async function waitForHostServers(servers: Readonly<Record<string, HostServerState>>): Promise<void> {
  await Promise.all(
    Object.entries(servers).map(async ([name, s]) => {
      const status = await waitForPodServer(s.controlSocket, READY_MS);
      const failed = status.ports.filter((p) => !p.listening && p.protocol !== 'SCTP');
      if (failed.length > 0) {
        const what = failed.map((p) => `${p.port}/${p.protocol}: ${p.error}`).join(', ');
        throw new Error(`${name}'s probe server could not serve ${what}`);
      }
    }),
  );
}

/** Stops each server (only if its PID still runs its config) and removes the files. */
export async function stopHostServers(
  dir: string,
  servers: Readonly<Record<string, HostServerState>>,
): Promise<void> {
  for (const name of Object.keys(servers)) {
    await stopProcess(servers[name]!.pid, hostServerFiles(dir, name).config);
  }
  rmSync(join(dir, 'hosts'), { recursive: true, force: true });
}
