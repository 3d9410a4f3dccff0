// Packet counters of a chain's rules, read back from the kernel by the rules' comments (the strict encryption
// drops per peer, issue 12). Listing a missing chain counts as no packets: the chain comes with the first sync.
import { TABLE_NAME } from '../ir/ir.js';
import type { NftExec } from './nft-exec.js';
import { isNotFound } from './runner.js';

interface NftJsonRule {
  readonly rule?: { readonly comment?: string; readonly expr?: readonly Record<string, unknown>[] };
}

/** The packets each comment's rules counted, from `nft -j list chain` output. Pure. */
export function parseRuleCounters(json: string): Map<string, number> {
  const out = new Map<string, number>();
  const doc = JSON.parse(json) as { nftables?: readonly NftJsonRule[] };
  for (const item of doc.nftables ?? []) {
    const rule = item.rule;
    if (!rule?.comment) continue;
    for (const e of rule.expr ?? []) {
      const counter = e.counter as { packets?: number } | undefined;
      if (counter && typeof counter.packets === 'number')
        out.set(rule.comment, (out.get(rule.comment) ?? 0) + counter.packets);
    }
  }
  return out;
}

/** The counters of the rules of `chains` in the agent's table, summed by comment. */
export async function readRuleCounters(
  exec: NftExec,
  chains: readonly string[],
): Promise<Map<string, number>> {
  const total = new Map<string, number>();
  for (const chain of chains) {
    let json: string;
    try {
      json = await exec.command(['list', 'chain', 'inet', TABLE_NAME, chain], { json: true });
    } catch (err) {
      if (isNotFound(err) || /No such file or directory/.test(String(err))) continue;
      throw err;
    }
    for (const [comment, n] of parseRuleCounters(json)) total.set(comment, (total.get(comment) ?? 0) + n);
  }
  return total;
}
