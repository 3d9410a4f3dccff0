// The text forms of the on-disk store: record files (JSON, one per reserved address) and owner-index entry names.
// Pure. Decoding never throws: whatever is not a well-formed record is reported as unreadable by the caller.
import { CidrError, cidrContains, formatIp, parseCidr, tryParseIp } from '../model/cidr.js';
import { isValidOwner } from './names.js';
import type { AllocationRecord, Owner } from './types.js';

/** Is `text` an address in the canonical form records are named by ("10.0.0.1", "fd00::1")? */
export function isCanonicalIp(text: string): boolean {
  const addr = tryParseIp(text);
  return addr !== undefined && formatIp(addr) === text;
}

/** Human-readable JSON with a fixed key order. */
export function encodeRecord(r: AllocationRecord): string {
  const ordered = {
    containerID: r.containerID,
    ifname: r.ifname,
    network: r.network,
    ip: r.ip,
    subnet: r.subnet,
    ...(r.gateway === undefined ? {} : { gateway: r.gateway }),
    allocatedAt: r.allocatedAt,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

function subnetHolds(subnet: string, ip: string): boolean {
  try {
    const addr = tryParseIp(ip);
    return addr !== undefined && cidrContains(parseCidr(subnet, { strict: true }), addr);
  } catch (err) {
    if (err instanceof CidrError) return false;
    throw err;
  }
}

/** The record stored under the name `ip`, or undefined if `text` is not one. */
export function decodeRecord(text: string, ip: string): AllocationRecord | undefined {
  const v = parseJson(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const { containerID, ifname, network, subnet, gateway, allocatedAt } = o;
  if (
    typeof containerID !== 'string' ||
    typeof ifname !== 'string' ||
    typeof network !== 'string' ||
    typeof subnet !== 'string' ||
    typeof allocatedAt !== 'string' ||
    (gateway !== undefined && (typeof gateway !== 'string' || !isCanonicalIp(gateway)))
  ) {
    return undefined;
  }
  if (o.ip !== ip || !isValidOwner({ containerID, ifname }) || !subnetHolds(subnet, ip)) return undefined;
  const base = { containerID, ifname, network, ip, subnet, allocatedAt };
  return gateway === undefined ? base : { ...base, gateway };
}

/** The address a hint names: the hint is a link to a record (or, written by hand, the bare address). */
export function ipOfHint(text: string): string | undefined {
  const bare = text.trim();
  if (isCanonicalIp(bare)) return bare;
  const v = parseJson(text);
  const ip = typeof v === 'object' && v !== null ? (v as Record<string, unknown>).ip : undefined;
  return typeof ip === 'string' && isCanonicalIp(ip) ? ip : undefined;
}

/**
 * An owner-index entry: "<containerID>@<ifname>@<ip>". Unambiguous although an ifname may contain "@": a
 * container ID never does and an address never does, so the first and last "@" split it.
 */
export function indexEntryName(owner: Owner, ip: string): string {
  return `${owner.containerID}@${owner.ifname}@${ip}`;
}

export function parseIndexEntryName(name: string): { owner: Owner; ip: string } | undefined {
  const first = name.indexOf('@');
  const last = name.lastIndexOf('@');
  if (first <= 0 || last <= first) return undefined;
  const owner = { containerID: name.slice(0, first), ifname: name.slice(first + 1, last) };
  const ip = name.slice(last + 1);
  return isValidOwner(owner) && isCanonicalIp(ip) ? { owner, ip } : undefined;
}
