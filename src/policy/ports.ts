// A rule's ports, planned: numeric ranges merged per protocol, and the named ports left to resolve per
// destination pod. Pure.

import type { PortRange } from '../ir/ir.js';
import type { Protocol } from '../model/k8s.js';
import type { PolicyPort } from '../model/network-policy.js';

export interface PortPlan {
  /** `ports` was empty: every port of every protocol. */
  readonly any: boolean;
  /** Per protocol: merged numeric ranges; an empty list means every port of that protocol. */
  readonly numeric: ReadonlyMap<Protocol, readonly PortRange[]>;
  readonly named: readonly { readonly name: string; readonly protocol: Protocol }[];
}

/** Sorts and merges overlapping or adjacent ranges (nft rejects overlapping intervals in one set). */
export function mergeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) out[out.length - 1] = { from: last.from, to: Math.max(last.to, r.to) };
    else out.push(r);
  }
  return out;
}

export function planPorts(ports: readonly PolicyPort[]): PortPlan {
  const numeric = new Map<Protocol, PortRange[] | 'all'>();
  const named: { name: string; protocol: Protocol }[] = [];
  for (const p of ports) {
    if (typeof p.port === 'string') {
      if (!named.some((n) => n.name === p.port && n.protocol === p.protocol))
        named.push({ name: p.port, protocol: p.protocol });
      continue;
    }
    const current = numeric.get(p.protocol) ?? [];
    if (p.port === undefined || current === 'all') {
      numeric.set(p.protocol, 'all');
      continue;
    }
    current.push({ from: p.port, to: p.endPort ?? p.port });
    numeric.set(p.protocol, current);
  }
  const merged = new Map<Protocol, readonly PortRange[]>();
  for (const [proto, ranges] of [...numeric.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    merged.set(proto, ranges === 'all' ? [] : mergeRanges(ranges));
  }
  return { any: ports.length === 0, numeric: merged, named };
}
