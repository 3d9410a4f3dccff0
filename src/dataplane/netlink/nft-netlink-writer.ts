// Incremental updates written over nf_tables netlink in-process (palisade-native.node), one transaction each,
// when everything they change is something nft-msg.ts can say: set and map elements, regular chains without a
// comment, and rules that are only a verdict. That is what a pod's coming, going or relabelling changes once the
// policies selecting it have their chains: elements of the pod sets anywhere, and for a pod of this node its
// endpoint chains (a jump per policy, then drop) and its interface's entries in the endpoint maps. Anything else
// (policy chains, new sets, base chains) goes through libnftables, whose cache of the whole table (2-4 ms at 10k
// pods, refetched after every commit) these requests skip. The order is renderPlan's (nft-diff.ts).
import type { Table } from '../../ir/ir.js';
import type { NativeAddon } from '../native.js';
import type { DiffPlan } from '../nft-diff.js';
import { batchBegin, batchEnd, NETLINK_NETFILTER } from './nfnetlink.js';
import {
  delChain,
  type Element,
  flushChain,
  ifnameKey,
  isVerdictOnly,
  newChain,
  newRule,
  setElementKey,
  setElements,
  type TableRef,
} from './nft-msg.js';
import { type NetlinkRequest, NetlinkSocket } from './socket.js';

/** Elements per request: each request, and its echo in an error answer, stay well inside one socket buffer. */
const ELEMENTS_PER_REQUEST = 256;
/** Requests per transaction (the addon's exchange takes up to 1024); larger changes go through libnftables. */
const MAX_REQUESTS = 512;

export interface NetlinkTableWriter {
  /** Whether write() can say everything `plan` does (see the top of this file). */
  accepts(plan: DiffPlan, next: Table): boolean;
  /** Writes `plan` (prev → next) as one transaction; nothing of it stays when the kernel refuses any part. */
  write(plan: DiffPlan, next: Table): Promise<void>;
  /** Closes the socket once the last write has finished. */
  close(): Promise<void>;
}

/** How many requests `n` elements take (elementRequests cuts them so). */
const requestsFor = (n: number) => Math.ceil(n / ELEMENTS_PER_REQUEST);

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

function elementRequests(
  t: TableRef,
  set: string,
  op: 'add' | 'delete',
  els: readonly Element[],
  what: string,
) {
  return chunks(els, ELEMENTS_PER_REQUEST).map(
    (xs): NetlinkRequest => ({
      what: `${op} element ${t.family} ${t.table} ${set} { ${what}${els.length > 1 ? ` (${els.length})` : ''} }`,
      build: (seq) => setElements(seq, t, set, op, xs),
    }),
  );
}

/** The requests of `plan`, in renderPlan's order. Keys are encoded here, before anything is sent. */
export function planRequests(plan: DiffPlan, next: Table): NetlinkRequest[] {
  const t: TableRef = { family: next.family, table: next.name };
  const setType = new Map(next.sets.map((s) => [s.name, s.type]));
  const chainReq = (verb: string, c: string, build: (seq: number) => Buffer): NetlinkRequest => ({
    what: `${verb} chain ${t.family} ${t.table} ${c}`,
    build,
  });
  return [
    ...plan.flush.map((c) => chainReq('flush', c, (seq) => flushChain(seq, t, c))),
    ...plan.maps.flatMap((m) =>
      elementRequests(
        t,
        m.name,
        'delete',
        m.del.map((k) => ({ key: ifnameKey(k) })),
        m.del[0] ?? '',
      ),
    ),
    ...plan.chainsRemoved.map((c) => chainReq('delete', c, (seq) => delChain(seq, t, c))),
    ...plan.sets.flatMap((d) => {
      const type = setType.get(d.name);
      if (!type) throw new Error(`set element: table ${t.table} has no set "${d.name}"`);
      const els = (xs: readonly string[]) => xs.map((x) => ({ key: setElementKey(type, x) }));
      return [
        ...elementRequests(t, d.name, 'delete', els(d.del), d.del[0] ?? ''),
        ...elementRequests(t, d.name, 'add', els(d.add), d.add[0] ?? ''),
      ];
    }),
    ...plan.chainsAdded.map((c) => chainReq('add', c.name, (seq) => newChain(seq, t, c.name))),
    ...[...plan.chainsAdded, ...plan.chainsRewritten].flatMap((c) =>
      c.rules.map(
        (r): NetlinkRequest => ({
          what: `add rule ${t.family} ${t.table} ${c.name} (${r.comment})`,
          build: (seq) => newRule(seq, t, c.name, r),
        }),
      ),
    ),
    ...plan.maps.flatMap((m) =>
      elementRequests(
        t,
        m.name,
        'add',
        m.add.map((e) => ({ key: ifnameKey(e.key), verdict: e.verdict })),
        m.add[0]?.key ?? '',
      ),
    ),
  ];
}

/** Whether every part of `plan` is one nft-msg.ts can write. */
export function netlinkWritable(plan: DiffPlan, next: Table): boolean {
  if (plan.fullReplace) return false;
  if (plan.setsRemoved.length + plan.setsAdded.length + plan.mapsAdded.length + plan.mapsRemoved.length > 0)
    return false;
  const interval = new Map(next.sets.map((s) => [s.name, s.interval]));
  if (!plan.sets.every((d) => interval.get(d.name) === false)) return false;
  if (!plan.chainsAdded.every((c) => c.base === undefined && c.comment === undefined)) return false;
  if (![...plan.chainsAdded, ...plan.chainsRewritten].every((c) => c.rules.every(isVerdictOnly)))
    return false;
  const elements = [...plan.sets, ...plan.maps].reduce(
    (n, d) => n + requestsFor(d.add.length) + requestsFor(d.del.length),
    0,
  );
  const rules = [...plan.chainsAdded, ...plan.chainsRewritten].reduce((n, c) => n + c.rules.length, 0);
  const requests = elements + rules + plan.flush.length + plan.chainsRemoved.length + plan.chainsAdded.length;
  return requests > 0 && requests <= MAX_REQUESTS;
}

/** A writer bound to `netns` (a path; the caller's namespace when absent); its socket opens on first use. */
export function netlinkTableWriter(native: NativeAddon, opts: { netns?: string } = {}): NetlinkTableWriter {
  let socket: NetlinkSocket | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  return {
    accepts: netlinkWritable,
    write(plan, next) {
      const items = planRequests(plan, next);
      const run = queue.then(async () => {
        socket ??= new NetlinkSocket(native, opts.netns, NETLINK_NETFILTER);
        await socket.batch(items, { begin: batchBegin, end: batchEnd });
      });
      queue = run.catch(() => undefined);
      return run;
    },
    async close() {
      await queue;
      socket?.close();
      socket = undefined;
    },
  };
}
