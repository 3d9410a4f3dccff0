// What the CNI plugin calls: allocate on ADD, release on DEL, findByOwner on CHECK, gc on GC, freeCount on
// STATUS. Decisions come from allocator.ts; every effect goes through the Store seam.
import { formatCidr, formatIp, parseCidr, tryParseIp } from '../model/cidr.js';
import { candidates, freeInSet, hintKey } from './allocator.js';
import type { IpamConfig } from './config.js';
import { IpamExhaustedError } from './errors.js';
import { checkOwner, isValidOwner, ownerKey, sameOwner } from './names.js';
import { type IpRange, type RangeSet, rangeFor, rangeText } from './range.js';
import type { Store } from './store.js';
import type { Allocation, AllocationRecord, Owner } from './types.js';

export type { Allocation, Owner } from './types.js';

export interface AllocateOptions {
  /** Clock for the record's `allocatedAt`. */
  readonly now?: () => Date;
}

export interface GcResult {
  readonly released: Allocation[];
  /** Temp files and dangling index entries removed. */
  readonly debrisRemoved: number;
  /** Addresses whose record could not be read; they stay reserved (see the ADR). */
  readonly unreadable: readonly string[];
}

export function toAllocation(r: AllocationRecord): Allocation {
  const subnet = parseCidr(r.subnet);
  const base = {
    ip: r.ip,
    family: subnet.family,
    prefix: subnet.prefix,
    subnet: r.subnet,
    owner: { containerID: r.containerID, ifname: r.ifname },
    network: r.network,
  };
  return r.gateway === undefined ? base : { ...base, gateway: r.gateway };
}

/**
 * Reserves one address from each range set for `owner`; all or nothing. A retried ADD gets the addresses it
 * already holds. Throws IpamExhaustedError naming the set that is full, after releasing what this call reserved.
 */
export async function allocate(
  store: Store,
  config: IpamConfig,
  owner: Owner,
  opts: AllocateOptions = {},
): Promise<Allocation[]> {
  checkOwner(owner);
  const held = await store.findByOwner(owner);
  const taken = await store.reservedAddresses();
  const now = opts.now ?? (() => new Date());
  const reservedNow: AllocationRecord[] = [];
  const out: Allocation[] = [];
  try {
    for (const set of config.rangeSets) {
      const existing = held.find((r) => inSet(set, r.ip));
      const record = existing ?? (await reserveInSet(store, set, { owner, taken, allocatedAt: now() }));
      if (!existing) reservedNow.push(record);
      out.push(toAllocation(record));
    }
  } catch (err) {
    // What cannot be released here (an I/O failure) is released by the DEL the runtime sends after a failed ADD.
    await Promise.allSettled(reservedNow.map((r) => store.release(r.ip, owner)));
    throw err;
  }
  return out;
}

function inSet(set: RangeSet, ip: string): boolean {
  const addr = tryParseIp(ip);
  return addr !== undefined && rangeFor(set, addr) !== undefined;
}

interface ReserveRequest {
  readonly owner: Owner;
  readonly taken: ReadonlySet<string>;
  readonly allocatedAt: Date;
}

async function reserveInSet(store: Store, set: RangeSet, req: ReserveRequest): Promise<AllocationRecord> {
  const key = hintKey(set);
  const hint = await store.lastReserved(key);
  const lastReserved = hint === undefined ? undefined : tryParseIp(hint);
  for (const c of candidates(set, { lastReserved, taken: req.taken })) {
    const record = makeRecord(store.network, req, { ip: c.text, range: c.range });
    if (await store.reserve(record)) {
      await store.setLastReserved(key, c.text);
      return record;
    }
  }
  throw new IpamExhaustedError(set.path, set.ranges.map(rangeText));
}

function makeRecord(
  network: string,
  req: ReserveRequest,
  at: { ip: string; range: IpRange },
): AllocationRecord {
  const { subnet, gateway } = at.range;
  const base = {
    network,
    containerID: req.owner.containerID,
    ifname: req.owner.ifname,
    ip: at.ip,
    subnet: formatCidr(subnet),
    allocatedAt: req.allocatedAt.toISOString(),
  };
  return gateway === undefined
    ? base
    : { ...base, gateway: formatIp({ family: subnet.family, value: gateway }) };
}

/**
 * The owner's records: through the index, and if that finds nothing, by reading every record (an index entry
 * lost to hand-editing or an old layout must not leak an address). The scan costs ~1 ms per 100 records.
 */
async function ownedRecords(store: Store, owner: Owner): Promise<AllocationRecord[]> {
  const indexed = await store.findByOwner(owner);
  if (indexed.length > 0) return indexed;
  const { records } = await store.scan();
  return records.filter((r) => sameOwner(r, owner));
}

/** Frees everything `owner` holds. Idempotent: an owner with nothing reserved gets []. */
export async function release(store: Store, owner: Owner): Promise<Allocation[]> {
  checkOwner(owner);
  const released: Allocation[] = [];
  for (const r of await ownedRecords(store, owner)) {
    if (await store.release(r.ip, owner)) released.push(toAllocation(r));
  }
  return released;
}

export async function findByOwner(store: Store, owner: Owner): Promise<Allocation[]> {
  checkOwner(owner);
  return (await ownedRecords(store, owner)).map(toAllocation);
}

/** CNI GC: frees every reservation whose owner is not in `valid`, then removes crash debris. */
export async function gc(store: Store, valid: readonly Owner[]): Promise<GcResult> {
  const keep = new Set(valid.filter(isValidOwner).map(ownerKey));
  const { records, unreadable } = await store.scan();
  const released: Allocation[] = [];
  for (const r of records) {
    const owner = { containerID: r.containerID, ifname: r.ifname };
    if (keep.has(ownerKey(owner))) continue;
    if (await store.release(r.ip, owner)) released.push(toAllocation(r));
  }
  const debrisRemoved = await store.removeDebris();
  return { released, debrisRemoved, unreadable };
}

/**
 * How many more ADDs can succeed: the free addresses of the fullest range set (capped at
 * Number.MAX_SAFE_INTEGER; an IPv6 /64 has more). Reads no record.
 */
export async function freeCount(store: Store, config: IpamConfig): Promise<number> {
  const reserved = await store.reservedAddresses();
  let min: bigint | undefined;
  for (const set of config.rangeSets) {
    const free = freeInSet(set, reserved);
    if (min === undefined || free < min) min = free;
  }
  const cap = BigInt(Number.MAX_SAFE_INTEGER);
  return Number(min === undefined || min > cap ? cap : min);
}
