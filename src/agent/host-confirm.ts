// Lockout protection, second line: the confirm window. After a sync programs a host policy change, the agent must
// reach the API server again within `windowMs`; if it cannot, `expire` runs (the agent then rolls the change back,
// host-guard.ts rollback(), and syncs). Like a router's "commit confirmed": a change the first line could not see
// coming (an address the checks did not know, a path through another device) undoes itself.
//
// A newer change starts a new window (the older one is cancelled). The probe is tried every `intervalMs` until it
// succeeds or the window ends; one that hangs is not waited for past the window.

export interface ConfirmWindowOptions {
  readonly windowMs: number;
  readonly intervalMs?: number;
  /** Resolves true when the API server answered. Never rejects (a failure is false). */
  readonly probe: () => Promise<boolean>;
  /** The window ended without an answer: `what` says what could not be reached, for status and events. */
  readonly expire: (what: string) => void;
  /** An answer came: the change is confirmed. */
  readonly confirmed?: (afterMs: number) => void;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ConfirmWindow {
  /** A host change was programmed: (re)start the window. */
  start(): void;
  /** Whether a window is open. */
  readonly open: boolean;
  stop(): void;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export function createConfirmWindow(opts: ConfirmWindowOptions): ConfirmWindow {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  const interval = opts.intervalMs ?? 500;
  let generation = 0;
  let open = false;

  async function run(gen: number): Promise<void> {
    const t0 = now();
    const deadline = t0 + opts.windowMs;
    while (gen === generation) {
      const left = deadline - now();
      if (left <= 0) break;
      const answered = await Promise.race([opts.probe(), sleep(left).then(() => false)]);
      if (gen !== generation) return;
      if (answered) {
        open = false;
        opts.confirmed?.(now() - t0);
        return;
      }
      await sleep(Math.min(interval, Math.max(0, deadline - now())));
    }
    if (gen !== generation) return;
    open = false;
    opts.expire(`API server not reachable within ${opts.windowMs} ms of the change`);
  }

  return {
    start() {
      generation += 1;
      open = true;
      void run(generation);
    },
    get open() {
      return open;
    },
    stop() {
      generation += 1;
      open = false;
    },
  };
}
