// What the node compiler knows about a set it rebuilt: the elements added to and deleted from the version before.
// The diff (dataplane/nft-diff.ts) would otherwise find them by comparing the two element lists, which at 10k pods
// means hashing every element of every changed set on every sync. Pure; a memo keyed by the set objects, so the
// IR stays plain data and a set without a recorded change (or diffed against another version) is compared whole.
import type { NamedSet } from './ir.js';

export interface SetChange {
  readonly add: readonly string[];
  readonly del: readonly string[];
}

interface Recorded extends SetChange {
  readonly from: NamedSet;
}

const changes = new WeakMap<NamedSet, Recorded>();

/**
 * Records that `next` is `from` with `add` added and `del` deleted (each exact: no element of `add` is in `from`,
 * every element of `del` is). Only one step back is kept: `from`'s own record is dropped, so a chain of versions
 * never stays alive through these records.
 */
export function recordSetChange(next: NamedSet, from: NamedSet, change: SetChange): void {
  changes.delete(from);
  changes.set(next, { from, add: change.add, del: change.del });
}

/** The recorded change from `prev` to `next`, when `next` was built from exactly `prev`. */
export function setChangeFrom(prev: NamedSet, next: NamedSet): SetChange | undefined {
  const c = changes.get(next);
  return c !== undefined && c.from === prev ? c : undefined;
}
