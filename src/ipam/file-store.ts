// The on-disk Store: lock-free, safe for many plugin processes at once and against SIGKILL at any instant.
// See docs/adr/0002-ipam-store.md. Layout of <dataDir>/<network>/:
//   <ip>                          record, JSON; created whole with link(2), which fails with EEXIST if taken
//   owners/<cid>@<ifname>@<ip>    owner index: a link to the temp that becomes the record; made before the record,
//                                 removed after it; found by name (its content may be a crashed attempt's)
//   last_reserved.<subnet>        round-robin hint: a hard link to the record last reserved, put in place by rename
//   .tmp-<pid>-<random>           temp file; left behind only by a writer that died (debris)
// An allocation creates one inode (the temp file); everything else is a link, which costs ~20x less.
import { join } from 'node:path';
import { IpamInvalidArgumentError } from './errors.js';
import {
  ctimeMsOf,
  ensureDir,
  linkFromExisting,
  linkNew,
  listDir,
  readText,
  renameIfExists,
  TEMP_PREFIX,
  tempPath,
  unlinkIfExists,
  writeTemp,
} from './file-store-io.js';
import { checkNetworkName, checkOwner, sameOwner } from './names.js';
import {
  decodeRecord,
  encodeRecord,
  indexEntryName,
  ipOfHint,
  isCanonicalIp,
  parseIndexEntryName,
} from './record.js';
import type { Store, StoreScan } from './store.js';
import type { AllocationRecord, Owner } from './types.js';

/** Points where a crash leaves distinct on-disk states; tests kill their own process at each. */
export type FileStoreStep =
  | 'temp-written'
  | 'intent-created'
  | 'record-linked'
  | 'record-read'
  | 'record-claimed';

export interface FileStoreOptions {
  readonly dataDir: string;
  readonly network: string;
  /**
   * Temp files and dangling index entries younger than this may belong to a writer still at work, so GC leaves
   * them. Default 60 s. Tests that kill every writer first may pass 0.
   */
  readonly debrisGraceMs?: number;
  /** Clock for the grace period, in ms since the epoch. */
  readonly now?: () => number;
  /** fsync each record before linking it into place. Default true. */
  readonly durable?: boolean;
  /** Test seam: called at each step of `FileStoreStep`. */
  readonly onStep?: (step: FileStoreStep) => void;
}

const HINT_PREFIX = 'last_reserved.';
const HINT_KEY_RE = /^[0-9A-Za-z.:_-]+$/;
const OWNERS = 'owners';

/**
 * Could `name` be a record? A cheap test (records are named by address, which starts with a hex digit or ":");
 * what passes is checked further wherever it matters. The taken-set of an allocation needs no more: a stray
 * name never equals a candidate's canonical text.
 */
function looksLikeRecord(name: string): boolean {
  return /^[0-9a-f:][0-9a-f:.]*$/.test(name);
}

function checkIp(ip: string): void {
  if (!isCanonicalIp(ip)) throw new IpamInvalidArgumentError('ip', ip, 'is not an address in canonical form');
}

class FileStore implements Store {
  readonly network: string;
  private readonly dir: string;
  private readonly ownersDir: string;
  private dirsReady = false;

  constructor(private readonly opts: FileStoreOptions) {
    checkNetworkName(opts.network);
    this.network = opts.network;
    this.dir = join(opts.dataDir, opts.network);
    this.ownersDir = join(this.dir, OWNERS);
  }

  async reservedAddresses(): Promise<ReadonlySet<string>> {
    return new Set(listDir(this.dir).filter(looksLikeRecord));
  }

  async reserve(record: AllocationRecord): Promise<boolean> {
    const owner = { containerID: record.containerID, ifname: record.ifname };
    checkOwner(owner);
    checkIp(record.ip);
    this.ensureDirs();
    const temp = writeTemp(this.dir, encodeRecord(record), { durable: this.opts.durable ?? true });
    this.step('temp-written');
    // The index entry comes first: a record can then never exist without an index entry that leads to it.
    const intent = join(this.ownersDir, indexEntryName(owner, record.ip));
    this.linkIndexEntry(temp, intent);
    this.step('intent-created');
    const linked = linkNew(temp, this.recordPath(record.ip));
    if (linked) this.step('record-linked');
    unlinkIfExists(temp);
    if (linked) return true;
    const holder = this.readRecord(record.ip);
    if (holder && sameOwner(holder, owner)) return true;
    unlinkIfExists(intent);
    return false;
  }

  async findByOwner(owner: Owner): Promise<AllocationRecord[]> {
    checkOwner(owner);
    const out: AllocationRecord[] = [];
    const prefix = `${owner.containerID}@`; // exact: a container ID never contains "@"
    for (const name of listDir(this.ownersDir).sort()) {
      if (!name.startsWith(prefix)) continue;
      const entry = parseIndexEntryName(name);
      if (!entry || !sameOwner(entry.owner, owner)) continue;
      const record = this.readRecord(entry.ip);
      if (record && sameOwner(record, owner)) out.push(record);
    }
    return out;
  }

  async scan(): Promise<StoreScan> {
    const records: AllocationRecord[] = [];
    const unreadable: string[] = [];
    for (const ip of listDir(this.dir).filter(looksLikeRecord).filter(isCanonicalIp).sort()) {
      const text = readText(this.recordPath(ip));
      if (text === undefined) continue; // released since the listing
      const record = decodeRecord(text, ip);
      if (record) records.push(record);
      else unreadable.push(ip);
    }
    return { records, unreadable };
  }

  async release(ip: string, owner: Owner): Promise<boolean> {
    checkOwner(owner);
    checkIp(ip);
    const held = this.readRecord(ip);
    if (!held || !sameOwner(held, owner)) return false;
    this.step('record-read');
    // Claim the record by renaming it away: of two releasers (DEL racing GC) only one succeeds.
    const path = this.recordPath(ip);
    const claim = tempPath(this.dir);
    if (!renameIfExists(path, claim)) return false;
    this.step('record-claimed');
    const text = readText(claim);
    const claimed = text === undefined ? undefined : decodeRecord(text, ip);
    if (!claimed || !sameOwner(claimed, owner)) {
      // Released and re-reserved by others between our read and our rename: put their record back.
      linkNew(claim, path);
      unlinkIfExists(claim);
      return false;
    }
    unlinkIfExists(claim);
    unlinkIfExists(join(this.ownersDir, indexEntryName(owner, ip)));
    return true;
  }

  async lastReserved(key: string): Promise<string | undefined> {
    const text = readText(this.hintPath(key));
    return text === undefined ? undefined : ipOfHint(text);
  }

  /** Links the record of `ip` under a temp name, then renames that over the hint. No record, no hint. */
  async setLastReserved(key: string, ip: string): Promise<void> {
    checkIp(ip);
    const path = this.hintPath(key);
    const temp = tempPath(this.dir);
    if (linkFromExisting(this.recordPath(ip), temp)) renameIfExists(temp, path);
  }

  /**
   * Removes temp files and index entries that lead nowhere, once they are older than the grace period. Ages are
   * taken before anything is removed: an entry and a temp file may be links to one inode, whose ctime each
   * removal would refresh.
   */
  async removeDebris(): Promise<number> {
    const temps = listDir(this.dir)
      .filter((name) => name.startsWith(TEMP_PREFIX))
      .map((name) => join(this.dir, name));
    const dangling = listDir(this.ownersDir)
      .filter((name) => this.isDangling(name))
      .map((name) => join(this.ownersDir, name));
    const old = [...temps, ...dangling].filter((path) => this.isOld(path));
    return old.filter((path) => unlinkIfExists(path)).length;
  }

  /** An entry the store wrote whose record is gone or held by someone else. */
  private isDangling(name: string): boolean {
    const entry = parseIndexEntryName(name);
    if (!entry) return false; // not ours: leave it
    const record = this.readRecord(entry.ip);
    return !record || !sameOwner(record, entry.owner);
  }

  /**
   * Makes `entry` a link to `temp`. An entry left by a crashed attempt is replaced by rename, which leaves no
   * moment without an entry, and gives it a fresh ctime, so GC does not take it for debris.
   */
  private linkIndexEntry(temp: string, entry: string): void {
    if (linkNew(temp, entry)) return;
    const next = tempPath(this.dir);
    linkNew(temp, next);
    renameIfExists(next, entry);
  }

  private readRecord(ip: string): AllocationRecord | undefined {
    const text = readText(this.recordPath(ip));
    return text === undefined ? undefined : decodeRecord(text, ip);
  }

  private recordPath(ip: string): string {
    return join(this.dir, ip);
  }

  private hintPath(key: string): string {
    if (!HINT_KEY_RE.test(key)) {
      throw new IpamInvalidArgumentError('hint key', key, `must match ${HINT_KEY_RE.source}`);
    }
    return join(this.dir, `${HINT_PREFIX}${key}`);
  }

  /**
   * Judged by ctime, which write, link and rename all set: a temp being written, a record being claimed by
   * rename and an index entry being linked all look young, whatever the age of the data in them.
   */
  private isOld(path: string): boolean {
    const ctime = ctimeMsOf(path);
    const now = this.opts.now?.() ?? Date.now();
    return ctime !== undefined && ctime <= now - (this.opts.debrisGraceMs ?? 60_000);
  }

  private ensureDirs(): void {
    if (this.dirsReady) return;
    ensureDir(this.ownersDir);
    this.dirsReady = true;
  }

  private step(step: FileStoreStep): void {
    this.opts.onStep?.(step);
  }
}

/** The store of one network under `dataDir`. Throws IpamInvalidArgumentError for an unusable network name. */
export function createFileStore(opts: FileStoreOptions): Store {
  return new FileStore(opts);
}
