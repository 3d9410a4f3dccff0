// The seam between the allocation logic and where reservations live, after host-local's backend.Store, plus an
// in-memory fake for tests. Implementations: file-store.ts (on disk, safe across processes), createMemoryStore.
import { sameOwner } from './names.js';
import type { AllocationRecord, Owner } from './types.js';

export interface StoreScan {
  /** Every record that could be read. */
  readonly records: readonly AllocationRecord[];
  /** Addresses whose record exists but could not be read or parsed; they stay reserved. */
  readonly unreadable: readonly string[];
}

/** Reservations of one network. Every method is safe to call concurrently from separate processes. */
export interface Store {
  readonly network: string;
  /**
   * Canonical texts of every reserved address. Cheap: it reads no record. May also hold a stray name that only
   * looks like an address; it never equals a candidate, and freeCount parses what it counts.
   */
  reservedAddresses(): Promise<ReadonlySet<string>>;
  /** Atomically reserves `record.ip` for the record's owner. False if another owner holds it. */
  reserve(record: AllocationRecord): Promise<boolean>;
  /** The owner's records, through the owner index (no scan). */
  findByOwner(owner: Owner): Promise<AllocationRecord[]>;
  /** Reads every record. */
  scan(): Promise<StoreScan>;
  /** Frees `ip` if `owner` still holds it; false if it was free or held by another owner. */
  release(ip: string, owner: Owner): Promise<boolean>;
  /** The last address reserved under `key` (a hint for round-robin), if known. */
  lastReserved(key: string): Promise<string | undefined>;
  setLastReserved(key: string, ip: string): Promise<void>;
  /** Removes what crashed writers left behind; returns how many entries went. */
  removeDebris(): Promise<number>;
}

export interface MemoryStore extends Store {
  /** Every record, sorted by address (for assertions). */
  records(): AllocationRecord[];
}

/** An in-memory Store. Each method runs to completion without yielding, so it is atomic within a process. */
export function createMemoryStore(opts: {
  network: string;
  records?: readonly AllocationRecord[];
}): MemoryStore {
  const byIp = new Map<string, AllocationRecord>((opts.records ?? []).map((r) => [r.ip, r]));
  const hints = new Map<string, string>();
  const owned = (owner: Owner) => [...byIp.values()].filter((r) => sameOwner(r, owner));
  return {
    network: opts.network,
    reservedAddresses: async () => new Set(byIp.keys()),
    reserve: async (record) => {
      const held = byIp.get(record.ip);
      if (held) return sameOwner(held, record);
      byIp.set(record.ip, record);
      return true;
    },
    findByOwner: async (owner) => owned(owner),
    scan: async () => ({ records: [...byIp.values()], unreadable: [] }),
    release: async (ip, owner) => {
      const held = byIp.get(ip);
      if (!held || !sameOwner(held, owner)) return false;
      byIp.delete(ip);
      return true;
    },
    lastReserved: async (key) => hints.get(key),
    setLastReserved: async (key, ip) => {
      hints.set(key, ip);
    },
    removeDebris: async () => 0,
    records: () => [...byIp.values()].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0)),
  };
}
