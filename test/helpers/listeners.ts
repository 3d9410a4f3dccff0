// Small TCP endpoints inside test namespaces, for the redirect tests: socat listeners that answer with their
// name (started detached, ended by process group), a client that reports who answered (optionally as a uid),
// and a count of the redirect tables in a netns.
import { join } from 'node:path';
import { REDIRECT_TABLE } from '../../src/chained/redirect-rules.js';
import { startDetached } from '../../src/dataplane/runner.js';
import { runner } from './netns.js';

export class Listeners {
  private readonly pids: number[] = [];

  constructor(private readonly logDir: string) {}

  /**
   * A socat listener in netns, on IPv4 and IPv6, that answers every connection with `name` and closes; waits
   * until it listens.
   */
  async listen(netns: string, port: number, name: string): Promise<void> {
    const argv = [
      'nsenter',
      `--net=${netns}`,
      '--',
      'socat',
      `TCP6-LISTEN:${port},ipv6only=0,fork,reuseaddr`,
      `EXEC:echo ${name}`,
    ];
    this.pids.push(startDetached(argv, { logFile: join(this.logDir, 'listeners.log') }));
    for (let i = 0; i < 50; i++) {
      if ((await runner.run(['ss', '-Hltn', `sport = :${port}`], { netns })).stdout.trim()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`listener ${name} on :${port} in ${netns} did not come up`);
  }

  /** Ends every listener this started (their process groups, by PID). */
  stop(): void {
    for (const pid of this.pids.splice(0)) {
      try {
        process.kill(-pid, 'SIGKILL'); // the process group: socat and its per-connection forks
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') console.error(err);
      }
    }
  }
}

/** Connects from netns (optionally as uid) and returns what the answering listener said. */
export async function whoAnswers(netns: string, ip: string, port: number, uid?: number): Promise<string> {
  const asUid =
    uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'];
  const target = ip.includes(':') ? `TCP6:[${ip}]:${port}` : `TCP:${ip}:${port}`;
  const argv = [...asUid, 'socat', '-T', '2', '-u', `${target},connect-timeout=2`, 'STDOUT'];
  return (await runner.run(argv, { netns, timeoutMs: 5000 })).stdout.trim();
}

/** How many `inet palisade_redirect` tables a netns holds. */
export async function redirectTables(netns: string): Promise<number> {
  const { stdout } = await runner.run(['nft', '-j', 'list', 'tables'], { netns, timeoutMs: 5000 });
  const objs = (JSON.parse(stdout) as { nftables: { table?: { name: string } }[] }).nftables;
  return objs.filter((o) => o.table?.name === REDIRECT_TABLE).length;
}
