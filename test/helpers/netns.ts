// Test fixtures on real network namespaces: every name carries a per-test unique prefix, and cleanup() removes
// everything the fixture made even when the test failed.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRunner } from '../../src/dataplane/runner.js';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const runner = createRunner();

/** Builds dist/ once per test process when it is missing (make test builds it first). */
export function ensureBuilt(): void {
  const outputs = ['palisade-cni', 'pod-server.cjs', 'palisade-native.node'];
  if (!outputs.every((f) => existsSync(join(REPO, 'dist', f)))) {
    execFileSync(process.execPath, [join(REPO, 'scripts', 'build.mjs')], { cwd: REPO, stdio: 'inherit' });
  }
}

export function uniquePrefix(tag: string): string {
  return `${tag}${randomBytes(3).toString('hex')}`;
}

export interface Fixture {
  readonly prefix: string;
  readonly tmp: string;
  /** Adds a netns `<prefix>-<name>` with lo up; returns its path under /run/netns. */
  netns(name: string): Promise<string>;
  cleanup(): Promise<void>;
}

export function listNetns(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

export function createFixture(tag: string): Fixture {
  const prefix = uniquePrefix(tag);
  const tmp = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const made: string[] = [];
  return {
    prefix,
    tmp,
    async netns(name) {
      const full = `${prefix}-${name}`;
      await runner.run(['ip', 'netns', 'add', full]);
      made.push(full);
      await runner.run(['ip', '-n', full, 'link', 'set', 'lo', 'up']);
      return `/run/netns/${full}`;
    },
    async cleanup() {
      for (const ns of listNetns().filter((n) => n.startsWith(`${prefix}-`))) {
        await runner.run(['ip', 'netns', 'del', ns]).catch(() => undefined);
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** Interface names inside a netns. */
export async function linksIn(netns: string): Promise<string[]> {
  const { stdout } = await runner.run(['ip', '-j', 'link', 'show'], { netns });
  return (JSON.parse(stdout) as { ifname: string }[]).map((l) => l.ifname);
}

/** palisade-cni's host veths in a netns. */
export async function palLinks(netns: string): Promise<string[]> {
  return (await linksIn(netns)).filter((l) => l.startsWith('pal'));
}

/** Reserved addresses in an IPAM store: records are files named by their address (not hints or the index). */
export function reservations(dataDir: string, network: string): string[] {
  try {
    return readdirSync(join(dataDir, network)).filter((f) => /^(\d+\.\d+\.\d+\.\d+|[0-9a-f:]+)$/.test(f));
  } catch {
    return []; // the store directory does not exist yet
  }
}
