// The nftables applier: the only place that writes the agent's table to the kernel, one transaction per call,
// through libnftables in-process or an `nft -f -` process (nft-exec.ts); in-process, the changes a pod brings
// (elements, endpoint chains of verdict rules) go straight over nf_tables netlink (netlink/nft-netlink-writer.ts),
// skipping libnftables' refetch of its cache of the whole table. Deciding what to write is nft-render.ts (whole table) and nft-diff.ts (increments).
import { TABLE_NAME, type Table } from '../ir/ir.js';
import type { Logger } from '../util/log.js';
import type { NativeAddon } from './native.js';
import { netlinkTableWriter } from './netlink/nft-netlink-writer.js';
import { isEmptyPlan, planDiff, renderPlan, summarisePlan } from './nft-diff.js';
import { createNftExec, type NftExec } from './nft-exec.js';
import { renderReplace } from './nft-render.js';
import { isNotFound, type Runner } from './runner.js';

export interface NftApplier {
  /** How transactions reach the kernel. */
  readonly kind: NftExec['kind'];
  /** Replaces the whole table in one transaction (start-up, resync, repair after drift or a failed diff). */
  replace(table: Table): Promise<void>;
  /** Applies prev→next as one incremental transaction; on failure falls back to replace(next) and reports it. */
  update(prev: Table, next: Table): Promise<{ mode: 'noop' | 'incremental' | 'replace'; error?: string }>;
  /** Whether the table exists in the kernel and its chain/set/map names (and rule counts) match `expected`. */
  matches(expected: Table): Promise<boolean>;
  /** Deletes the table (agent uninstall); a table already gone is success. */
  remove(): Promise<void>;
}

export interface NftApplierOptions {
  readonly runner: Runner;
  /** libnftables in-process when given (src/dataplane/native.ts); otherwise `nft` processes through the runner. */
  readonly native?: NativeAddon;
  /** Network namespace to act in (a path for nsenter); the current one when absent. */
  readonly netns?: string;
  readonly log: Logger;
  /**
   * Check the kernel's table against `next` after an incremental update (one terse listing: names and rule
   * counts, no set elements) and replace it when it differs. Catches drift the diff did not touch. Default true.
   */
  readonly verify?: boolean;
  readonly now?: () => number;
}

/** The kernel's table as names and counts only: `nft -j -t list table` (terse: no set or map elements). */
export interface TableShape {
  readonly sets: readonly string[];
  readonly maps: readonly string[];
  /** Chain name → "rules=N" plus, for base chains, "hook prio policy". */
  readonly chains: Readonly<Record<string, string>>;
}

type NftObject = Record<string, Record<string, unknown> | undefined>;

function chainKey(rules: number, base?: { hook: unknown; prio: unknown; policy: unknown }): string {
  return base ? `rules=${rules} ${base.hook} ${base.prio} ${base.policy}` : `rules=${rules}`;
}

export function expectedShape(t: Table): TableShape {
  const chains: Record<string, string> = {};
  for (const c of t.chains) {
    const base = c.base && { hook: c.base.hook, prio: c.base.priority, policy: c.base.policy };
    chains[c.name] = chainKey(c.rules.length, base);
  }
  return {
    sets: t.sets.map((s) => s.name).sort(),
    maps: t.maps.map((m) => m.name).sort(),
    chains,
  };
}

/** Reads the shape out of `nft -j -t list table` output. */
export function parseShape(json: string): TableShape {
  const objs = (JSON.parse(json) as { nftables?: NftObject[] }).nftables ?? [];
  const names = (kind: string) => objs.flatMap((o) => (o[kind] ? [String(o[kind].name)] : [])).sort();
  const rules = new Map<string, number>();
  for (const o of objs) {
    const chain = o.rule?.chain;
    if (typeof chain === 'string') rules.set(chain, (rules.get(chain) ?? 0) + 1);
  }
  const chains: Record<string, string> = {};
  for (const o of objs) {
    const c = o.chain;
    if (!c) continue;
    const name = String(c.name);
    const base = c.hook === undefined ? undefined : { hook: c.hook, prio: c.prio, policy: c.policy };
    chains[name] = chainKey(rules.get(name) ?? 0, base);
  }
  return { sets: names('set'), maps: names('map'), chains };
}

export function sameShape(a: TableShape, b: TableShape): boolean {
  const sorted = (r: Readonly<Record<string, string>>) => JSON.stringify(Object.entries(r).sort());
  return (
    JSON.stringify(a.sets) === JSON.stringify(b.sets) &&
    JSON.stringify(a.maps) === JSON.stringify(b.maps) &&
    sorted(a.chains) === sorted(b.chains)
  );
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createNftApplier(opts: NftApplierOptions): NftApplier {
  const log = opts.log.child({ component: 'nft-apply' });
  const now = opts.now ?? Date.now;
  const nft = createNftExec(opts);
  const direct = opts.native && netlinkTableWriter(opts.native, { netns: opts.netns });

  const replace = async (table: Table): Promise<void> => {
    const t0 = now();
    await nft.run(renderReplace(table));
    log.debug({ table: table.name, chains: table.chains.length, ms: now() - t0 }, 'table replaced');
  };

  const matches = async (expected: Table): Promise<boolean> => {
    try {
      const words = ['list', 'table', expected.family, expected.name];
      const listing = await nft.command(words, { json: true, terse: true });
      return sameShape(parseShape(listing), expectedShape(expected));
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  };

  const incremental = async (write: () => Promise<void>, next: Table): Promise<string | undefined> => {
    try {
      await write();
    } catch (err) {
      return message(err);
    }
    if (opts.verify === false || (await matches(next))) return undefined;
    return 'the kernel table differs from the expected one after the incremental update (drift)';
  };

  return {
    kind: nft.kind,
    replace,
    matches,
    async update(prev, next) {
      const plan = planDiff(prev, next);
      if (isEmptyPlan(plan)) return { mode: 'noop' };
      const summary = summarisePlan(plan, prev, next);
      if (plan.fullReplace) {
        await replace(next);
        log.info(summary, 'table replaced: a base chain or the table itself changed');
        return { mode: 'replace' };
      }
      const t0 = now();
      const write = direct?.accepts(plan, next)
        ? () => direct.write(plan, next)
        : () => nft.run(renderPlan(plan, next));
      const error = await incremental(write, next);
      if (error === undefined) {
        log.debug({ ...summary, ms: now() - t0 }, 'table updated incrementally');
        return { mode: 'incremental' };
      }
      log.warn({ error, ...summary }, 'incremental update failed; replacing the table');
      await replace(next);
      return { mode: 'replace', error };
    },
    async remove() {
      try {
        await nft.command(['delete', 'table', 'inet', TABLE_NAME]);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
  };
}
