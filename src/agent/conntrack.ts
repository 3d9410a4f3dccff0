// Ending established connections a policy change now denies. Established traffic passes the table on
// `ct state established`, so a flow admitted under an older policy would outlive the policy that forbids it;
// after each change the agent lists the node's conntrack entries, judges each one's ORIGINAL direction as a new
// packet with the same evaluator the compiler is tested with (evaluatePacket), and deletes the entries it drops.
// Deciding is pure (deniedEntries); listing and deleting go through the Runner (ConntrackRevoker).
import { CommandError, type Runner } from '../dataplane/runner.js';
import { evaluatePacket } from '../ir/eval.js';
import type { Table } from '../ir/ir.js';
import type { ClusterState } from '../model/cluster.js';
import { UPLINK } from '../policy/flow-path.js';
import type { Logger } from '../util/log.js';
import { type ConntrackEntry, parseConntrack } from './conntrack-parse.js';

/** A local endpoint's address: the pod's host-side interface (the table's dispatch key) and its name. */
export interface LocalAddress {
  readonly interface: string;
  readonly pod: string;
}

export interface Revocation {
  readonly entry: ConntrackEntry;
  /** The local pod(s) at either end, "ns/name". */
  readonly pods: readonly string[];
  /** Comments of the rules that decided the drop, outermost first; the last names the policy or isolation. */
  readonly trail: readonly string[];
}

/** Addresses of the pods wired on `node` (those the compiler gave an interface). */
export function localAddresses(state: ClusterState, node: string): Map<string, LocalAddress> {
  const out = new Map<string, LocalAddress>();
  for (const p of state.pods) {
    if (p.node !== node || !p.interface) continue;
    for (const ip of p.ips) out.set(ip, { interface: p.interface, pod: `${p.namespace}/${p.name}` });
  }
  return out;
}

/**
 * The entries the table now drops. Only flows with a local pod at one end are this node's to judge; traffic
 * between the node itself (any of `hostAddrs`) and a pod does not cross the forward hook, so it is left alone.
 */
export function deniedEntries(
  table: Table,
  local: ReadonlyMap<string, LocalAddress>,
  entries: readonly ConntrackEntry[],
  hostAddrs: ReadonlySet<string> = new Set(),
): Revocation[] {
  const out: Revocation[] = [];
  for (const entry of entries) {
    const { src, dst, dport } = entry.original;
    const from = local.get(src);
    const to = local.get(dst);
    if (!from && !to) continue;
    if (hostAddrs.has(src) || hostAddrs.has(dst)) continue;
    if (from && to && from.interface === to.interface) continue; // a pod to itself stays in its netns
    const v = evaluatePacket(table, {
      iifname: from?.interface ?? UPLINK,
      oifname: to?.interface ?? UPLINK,
      saddr: src,
      daddr: dst,
      protocol: entry.protocol,
      dport,
      ctState: 'new',
    });
    if (v.verdict !== 'drop') continue;
    out.push({ entry, pods: [from?.pod, to?.pod].filter((p): p is string => !!p), trail: v.trail });
  }
  return out;
}

function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

export function describeFlow(e: ConntrackEntry): string {
  const o = e.original;
  return `${e.protocol} ${hostPort(o.src, o.sport)} -> ${hostPort(o.dst, o.dport)}`;
}

/** The argv that deletes exactly this entry (its original tuple, in its zone). */
export function deleteArgv(e: ConntrackEntry): string[] {
  const o = e.original;
  return [
    'conntrack',
    '-D',
    '-f',
    e.family === 6 ? 'ipv6' : 'ipv4',
    '-p',
    e.protocol.toLowerCase(),
    '-s',
    o.src,
    '-d',
    o.dst,
    '--sport',
    String(o.sport),
    '--dport',
    String(o.dport),
    ...(e.zone !== 0 ? ['-w', String(e.zone)] : []),
  ];
}

/** conntrack exits 1 with "0 flow entries have been deleted" when the entry is already gone: that is success. */
export function isAlreadyGone(err: unknown): boolean {
  return err instanceof CommandError && (err.kind === 'not-found' || /\b0 flow entries/.test(err.stderr));
}

/** Every address configured in the namespace (`ip -j addr show`). */
export function parseHostAddrs(json: string): Set<string> {
  const links = JSON.parse(json) as { addr_info?: { local?: string }[] }[];
  return new Set(links.flatMap((l) => (l.addr_info ?? []).flatMap((a) => (a.local ? [a.local] : []))));
}

/** How the agent reads and edits the node's conntrack table: `conntrack` processes, or netlink in-process. */
export interface ConntrackAccess {
  /** Every entry, and every address of the namespace (flows of the node itself are not the table's). */
  list(timeoutMs: number): Promise<{ entries: ConntrackEntry[]; hostAddrs: Set<string> }>;
  /** Deletes one entry; false when it was already gone. */
  delete(entry: ConntrackEntry, timeoutMs: number): Promise<boolean>;
}

/** `conntrack -L` / `conntrack -D` and `ip -j addr show` processes. */
export function processConntrack(runner: Runner): ConntrackAccess {
  return {
    async list(timeoutMs) {
      const [addrs, listed] = await Promise.all([
        runner.run(['ip', '-j', 'addr', 'show'], { timeoutMs }),
        runner.run(['conntrack', '-L', '-o', 'extended'], { timeoutMs }),
      ]);
      return { entries: parseConntrack(listed.stdout), hostAddrs: parseHostAddrs(addrs.stdout) };
    },
    async delete(entry, timeoutMs) {
      try {
        await runner.run(deleteArgv(entry), { timeoutMs });
        return true;
      } catch (err) {
        if (isAlreadyGone(err)) return false;
        throw err;
      }
    },
  };
}

export interface ConntrackRevokerDeps {
  readonly runner: Runner;
  /** In-process access (palisade-native.node); `conntrack` processes through the runner when absent. */
  readonly conntrack?: ConntrackAccess;
  readonly log: Logger;
  /** Called with the number of entries deleted by one run. */
  readonly onRevoked?: (n: number) => void;
  readonly timeoutMs?: number;
}

/** Lists the netns's conntrack table, deletes what `table` denies; returns what it deleted. */
export async function revokeDenied(
  deps: ConntrackRevokerDeps,
  table: Table,
  local: ReadonlyMap<string, LocalAddress>,
): Promise<Revocation[]> {
  const timeoutMs = deps.timeoutMs ?? 5000;
  const access = deps.conntrack ?? processConntrack(deps.runner);
  const { entries, hostAddrs } = await access.list(timeoutMs);
  const denied = deniedEntries(table, local, entries, hostAddrs);
  const done: Revocation[] = [];
  for (const r of denied) {
    try {
      await access.delete(r.entry, timeoutMs);
    } catch (err) {
      deps.log.warn({ err, flow: describeFlow(r.entry) }, 'conntrack entry could not be deleted');
      continue;
    }
    done.push(r);
    deps.log.info(
      { pods: r.pods, flow: describeFlow(r.entry), rule: r.trail.at(-1), trail: r.trail },
      'established connection revoked: policy denies it now',
    );
  }
  if (done.length > 0) deps.onRevoked?.(done.length);
  return done;
}

/**
 * Runs revocations after table changes: `delayMs` after a change (0 = at once, < 0 = never), one at a time, with
 * the latest table; changes during a run lead to one more run. Failures are logged, never thrown.
 */
export class RevocationScheduler {
  private latest: { table: Table; local: ReadonlyMap<string, LocalAddress> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly deps: ConntrackRevokerDeps & {
      readonly delayMs: number;
      readonly revoke?: typeof revokeDenied;
    },
  ) {}

  changed(table: Table, local: ReadonlyMap<string, LocalAddress>): void {
    if (this.deps.delayMs < 0 || this.stopped) return;
    this.latest = { table, local };
    if (this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain();
    }, this.deps.delayMs);
  }

  /** Resolves when no run is pending or under way (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.timer || this.running) {
      await (this.running ?? new Promise((r) => setTimeout(r, 1)));
    }
  }

  private async drain(): Promise<void> {
    const revoke = this.deps.revoke ?? revokeDenied;
    while (this.latest && !this.stopped) {
      const { table, local } = this.latest;
      this.latest = undefined;
      try {
        await revoke(this.deps, table, local);
      } catch (err) {
        this.deps.log.error({ err }, 'revoking denied connections failed');
      }
    }
    this.running = undefined;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
