// Test helpers for the pod server: runs it in-process on a loopback address (no root, no netns), with fakes.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeRunner } from '../dataplane/runner.js';
import { type PodServer, type PodServerDeps, startPodServer } from './pod-server.js';
import type { PortSpec } from './pod-server-config.js';
import { createLineLog } from './pod-server-log.js';
import type { ChildHandle } from './pod-server-spawn.js';

/** A TCP port free on loopback right now (the kernel picks it); UDP on the same number is almost always free. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lps-unit-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A child that stays up until killed; `exitAt` makes it exit on its own with that description. */
export function fakeChild(exitAt?: string): ChildHandle & { killed: boolean } {
  let resolveExit: (how: string) => void = () => {};
  const exited = new Promise<string>((resolve) => {
    resolveExit = resolve;
  });
  const child = {
    pid: 4242,
    exited,
    killed: false,
    kill: () => {
      child.killed = true;
      resolveExit('killed by SIGTERM');
    },
  };
  if (exitAt !== undefined) setTimeout(() => resolveExit(exitAt), 5);
  return child;
}

export interface LoopbackPod {
  readonly server: PodServer;
  readonly controlSocket: string;
  readonly logLines: string[];
  readonly shutdowns: number[];
}

export async function startLoopbackPod(opts: {
  readonly id: string;
  readonly dir: string;
  readonly ports: readonly PortSpec[];
  readonly host?: string;
  /** Serve on each of these (config.addresses) instead of on `host`. */
  readonly addresses?: readonly string[];
  readonly deps?: Partial<PodServerDeps>;
}): Promise<LoopbackPod> {
  const controlSocket = join(opts.dir, `${opts.id.replace('/', '_')}.sock`);
  const logLines: string[] = [];
  const shutdowns: number[] = [];
  const server = await startPodServer(
    {
      id: opts.id,
      controlSocket,
      ports: opts.ports,
      ...(opts.addresses ? { addresses: opts.addresses } : {}),
    },
    {
      log: createLineLog((l) => logLines.push(l)),
      runner: createFakeRunner(),
      spawnChild: () => fakeChild(),
      sctpSupported: false,
      readSctpEndpoints: () => undefined,
      listenHost: opts.host ?? '127.0.0.1',
      onShutdown: () => shutdowns.push(Date.now()),
      ...opts.deps,
    },
  );
  return { server, controlSocket, logLines, shutdowns };
}
