// Helpers shared by the IPAM tests: configs, owners, temp data dirs, and an inspection of the on-disk store that
// reads the files directly (not through the store under test).
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCidr, formatIp } from '../../model/cidr.js';
import { type IpamConfig, parseIpamConfig } from '../config.js';
import type { IpRange } from '../range.js';
import { decodeRecord, isCanonicalIp, parseIndexEntryName } from '../record.js';
import type { AllocationRecord, Owner } from '../types.js';

export function mustParse(raw: unknown): IpamConfig {
  const parsed = parseIpamConfig(raw);
  if (!parsed.ok) throw new Error(`test config is invalid: ${parsed.errors.join('; ')}`);
  return parsed.config;
}

export function owner(containerID: string, ifname = 'eth0'): Owner {
  return { containerID, ifname };
}

/** "10.0.0.0/24 10.0.0.1-10.0.0.254 gw 10.0.0.1": every bound of a parsed range, for table assertions. */
export function describe(r: IpRange): string {
  const fmt = (value: bigint) => formatIp({ family: r.subnet.family, value });
  const gw = r.gateway === undefined ? '' : ` gw ${fmt(r.gateway)}`;
  return `${formatCidr(r.subnet)} ${fmt(r.start)}-${fmt(r.end)}${gw}`;
}

export function makeTempDir(): string {
  return fs.mkdtempSync(join(tmpdir(), 'palisade-ipam-test-'));
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export interface StoreInspection {
  readonly records: AllocationRecord[];
  /** Record files that do not decode. */
  readonly unreadable: string[];
  readonly tempFiles: string[];
  /** Index entries whose record exists and names the same owner. */
  readonly liveIndex: string[];
  /** Index entries that lead nowhere (or to another owner's record). */
  readonly danglingIndex: string[];
  /** Records with no index entry: the store's invariant says there are none. */
  readonly unindexed: string[];
  /** Names in the network directory the store does not create. */
  readonly stray: string[];
}

/** Reads `<dataDir>/<network>` with plain fs calls and classifies every entry. */
export function inspectStore(dataDir: string, network: string): StoreInspection {
  const dir = join(dataDir, network);
  const names = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  const records: AllocationRecord[] = [];
  const unreadable: string[] = [];
  for (const ip of names.filter(isCanonicalIp)) {
    const r = decodeRecord(fs.readFileSync(join(dir, ip), 'utf8'), ip);
    if (r) records.push(r);
    else unreadable.push(ip);
  }
  const known = (n: string) =>
    isCanonicalIp(n) || n === 'owners' || n.startsWith('last_reserved.') || n.startsWith('.tmp-');
  const ownersDir = join(dir, 'owners');
  const entries = fs.existsSync(ownersDir) ? fs.readdirSync(ownersDir).sort() : [];
  const byIp = new Map(records.map((r) => [r.ip, r]));
  const isLive = (name: string) => {
    const e = parseIndexEntryName(name);
    const r = e && byIp.get(e.ip);
    return !!e && !!r && r.containerID === e.owner.containerID && r.ifname === e.owner.ifname;
  };
  const liveIndex = entries.filter(isLive);
  const indexed = new Set(liveIndex.map((n) => parseIndexEntryName(n)!.ip));
  return {
    records,
    unreadable,
    tempFiles: names.filter((n) => n.startsWith('.tmp-')),
    liveIndex,
    danglingIndex: entries.filter((n) => !isLive(n)),
    unindexed: records.filter((r) => !indexed.has(r.ip)).map((r) => r.ip),
    stray: names.filter((n) => !known(n)),
  };
}
