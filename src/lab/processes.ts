// Long-running helper processes of the lab (pod servers, started with startDetached from the runner) are
// stopped by PID only after checking that the PID still runs what we started (a PID can be reused once a process is gone).
import { readFileSync } from 'node:fs';

/** True when pid is alive and its command line contains marker (e.g. the pod's config path). */
export function runsMarker(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .some((a) => a.includes(marker));
  } catch {
    return false; // no such process: /proc/<pid> is gone
  }
}

/** SIGTERM, then SIGKILL after graceMs; only if the process still runs marker. Resolves once it is gone. */
export async function stopProcess(pid: number, marker: string, graceMs = 2000): Promise<void> {
  if (!runsMarker(pid, marker)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (runsMarker(pid, marker)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 20));
      if (!runsMarker(pid, marker)) return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
