// The benchmarks' namespaces and files: all named with one random prefix, all removed by cleanup() (which the
// benchmarks call on success, failure and SIGINT/SIGTERM).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runner } from '../src/dataplane/runner.js';

export class Sandbox {
  readonly prefix: string;
  readonly tmp: string;

  constructor(
    private readonly runner: Runner,
    tag: string,
  ) {
    this.prefix = `${tag}${randomBytes(3).toString('hex')}`;
    this.tmp = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
  }

  /** Adds netns `<prefix>-<name>` with lo up; returns its path. */
  async netns(name: string): Promise<string> {
    const full = `${this.prefix}-${name}`;
    await this.runner.run(['ip', 'netns', 'add', full]);
    await this.runner.run(['ip', '-n', full, 'link', 'set', 'lo', 'up']);
    return `/run/netns/${full}`;
  }

  async dropNetns(path: string): Promise<void> {
    await this.runner.run(['ip', 'netns', 'del', path.split('/').pop()!]);
  }

  async cleanup(): Promise<void> {
    const { stdout } = await this.runner.run(['ip', 'netns', 'list']);
    const names = stdout.split('\n').map((l) => l.split(' ')[0] ?? '');
    for (const ns of names.filter((n) => n.startsWith(`${this.prefix}-`))) {
      await this.runner.run(['ip', 'netns', 'del', ns]).catch((err: unknown) => console.error(String(err)));
    }
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
