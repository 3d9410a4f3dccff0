// The one seam through which Palisade runs external commands (ip, nft, nsenter, wg, sysctl...).
// Everything that decides is pure; everything that acts takes a Runner, so tests can pass a fake.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname } from 'node:path';

export interface RunOptions {
  /** Written to the command's stdin, then stdin is closed. */
  readonly input?: string;
  /** Run inside this network namespace (a path such as /run/netns/x or /proc/PID/ns/net) through nsenter. */
  readonly netns?: string;
  /** Kill the command after this many milliseconds. */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface Runner {
  /** Runs argv; resolves with its output when it exits 0, rejects with CommandError otherwise. */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

export type CommandErrorKind = 'not-found' | 'exists' | 'other';

export class CommandError extends Error {
  override readonly name = 'CommandError';
  readonly kind: CommandErrorKind;
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly signal?: NodeJS.Signals | null,
    readonly stdout = '',
  ) {
    const head = stderr.trim().split('\n').slice(0, 3).join(' | ');
    const how = signal ? `killed by ${signal}` : `exited ${exitCode}`;
    super(`${argv.join(' ')}: ${how}${head ? `: ${head}` : ''}`);
    this.kind = classifyStderr(stderr);
  }
}

/** Classifies the messages of ip, nft and nsenter into "not found" / "already exists". */
export function classifyStderr(stderr: string): CommandErrorKind {
  const s = stderr.toLowerCase();
  if (
    /cannot find device|no such file or directory|no such device|does not exist|no such process|not found/.test(
      s,
    )
  ) {
    return 'not-found';
  }
  if (/file exists|already exists/.test(s)) return 'exists';
  return 'other';
}

export function isNotFound(err: unknown): boolean {
  return err instanceof CommandError && err.kind === 'not-found';
}

export function isExists(err: unknown): boolean {
  return err instanceof CommandError && err.kind === 'exists';
}

/** Prefixes argv with nsenter when a netns is given. */
export function withNetns(argv: readonly string[], netns: string | undefined): string[] {
  return netns ? ['nsenter', `--net=${netns}`, '--', ...argv] : [...argv];
}

export function createRunner(): Runner {
  return {
    run(argv, opts = {}) {
      const full = withNetns(argv, opts.netns);
      return new Promise((resolve, reject) => {
        const child = spawn(full[0]!, full.slice(1), {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: opts.env ?? process.env,
          timeout: opts.timeoutMs,
        });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on('data', (b: Buffer) => out.push(b));
        child.stderr.on('data', (b: Buffer) => err.push(b));
        child.on('error', (e) => reject(new CommandError(full, null, String(e.message))));
        child.on('close', (code, signal) => {
          const stdout = Buffer.concat(out).toString('utf8');
          const stderr = Buffer.concat(err).toString('utf8');
          if (code === 0) resolve({ stdout, stderr });
          else reject(new CommandError(full, code, stderr, signal, stdout));
        });
        child.stdin.on('error', () => {}); // a command that exits before reading stdin is reported by 'close'
        child.stdin.end(opts.input ?? '');
      });
    },
  };
}

/** A fake Runner for tests: records every call and answers through a handler. */
export function createFakeRunner(
  handler: (argv: readonly string[], opts: RunOptions) => RunResult | Error = () => ({
    stdout: '',
    stderr: '',
  }),
): Runner & { calls: { argv: string[]; opts: RunOptions }[] } {
  const calls: { argv: string[]; opts: RunOptions }[] = [];
  return {
    calls,
    async run(argv, opts = {}) {
      calls.push({ argv: [...argv], opts });
      const r = handler(argv, opts);
      if (r instanceof Error) throw r;
      return r;
    },
  };
}

/** Starts a long-running process in its own session with output appended to logFile; returns its PID. */
export function startDetached(
  argv: readonly string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv },
): number {
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(argv[0]!, argv.slice(1), {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`failed to start ${argv.join(' ')}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs argv with this process's stdin, stdout and stderr (a command a person runs through the CLI, such as
 * `palisade lab kubectl` or `lab exec`); resolves with its exit code (128 + signal number when killed).
 */
export function runAttached(
  argv: readonly string[],
  opts: { netns?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  const full = withNetns(argv, opts.netns);
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), { stdio: 'inherit', env: opts.env ?? process.env });
    child.on('error', (e) => reject(new CommandError(full, null, String(e.message))));
    child.on('close', (code, signal) =>
      resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)),
    );
  });
}

/** A long-running child the caller owns: it ends with the caller (SIGTERM on stop) and reports its own end. */
export interface ChildProcess {
  readonly pid: number;
  /** Resolves when it has exited (with its code, or null when killed). */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts argv (in `netns`, through nsenter, when given) with its output appended to logFile. */
export function startChild(
  argv: readonly string[],
  opts: { logFile: string; netns?: string; env?: NodeJS.ProcessEnv },
): ChildProcess {
  const full = withNetns(argv, opts.netns);
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', fd, fd], env: opts.env ?? process.env });
    if (child.pid === undefined) throw new Error(`failed to start ${full.join(' ')}`);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return {
      pid: child.pid,
      exited,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      },
    };
  } finally {
    closeSync(fd);
  }
}
