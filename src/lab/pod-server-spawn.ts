// Long-lived child processes of the pod server (socat SCTP listeners). The Runner seam only runs commands to
// completion, so this is the one other place in the lab that touches child_process.
import { spawn } from 'node:child_process';

export interface ChildHandle {
  readonly pid: number | undefined;
  /** Resolves with how the child ended ("exited 1", "killed by SIGTERM", "failed to start: ..."). */
  readonly exited: Promise<string>;
  /** Sends SIGTERM if the child is still running. */
  kill(): void;
}

export type SpawnChild = (argv: readonly string[]) => ChildHandle;

/** Spawns argv with stdin and stdout closed; its stderr goes to ours (the pod's log). */
export const spawnChild: SpawnChild = (argv) => {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  let running = true;
  const exited = new Promise<string>((resolve) => {
    child.on('error', (err) => {
      running = false;
      resolve(`failed to start: ${err.message}`);
    });
    child.on('exit', (code, signal) => {
      running = false;
      resolve(signal ? `killed by ${signal}` : `exited ${code}`);
    });
  });
  return {
    pid: child.pid,
    exited,
    kill: () => {
      if (running) child.kill('SIGTERM');
    },
  };
};
