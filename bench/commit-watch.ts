// When did the kernel commit? `nft monitor` in the bench's netns prints "# new generation N by process P" as
// each nftables transaction commits; this records when each such line arrives. The applier resolves only when
// `nft` exits, which for a transaction that deletes anything is ~15 ms after the commit (the kernel waits for
// an RCU grace period as nft closes its netlink socket, machine.md), so the two are reported side by side.
import { type ChildProcess, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export class CommitWatch {
  private readonly child: ChildProcess;
  private readonly stamps: number[] = [];
  private buffer = '';

  constructor(netns: string) {
    this.child = spawn('nsenter', [`--net=${netns}`, '--', 'nft', 'monitor'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      const now = performance.now();
      this.buffer += chunk;
      const lines = this.buffer.split('\n');
      this.buffer = lines.pop()!;
      for (const l of lines) if (l.startsWith('# new generation')) this.stamps.push(now);
    });
  }

  /** Waits until the monitor is listening (it reports nothing until something commits: give it a moment). */
  async ready(): Promise<void> {
    await new Promise((r) => setTimeout(r, 300));
  }

  /** The time of the first commit seen at or after `since`, waiting up to `timeoutMs` for it. */
  async commitAfter(since: number, timeoutMs = 1000): Promise<number | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const t = this.stamps.find((s) => s >= since);
      if (t !== undefined) return t;
      if (performance.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  stop(): void {
    this.child.kill('SIGTERM');
  }
}
