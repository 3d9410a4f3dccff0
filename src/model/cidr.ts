// Address and prefix arithmetic for IPv4 and IPv6, on bigint so one code path serves both families.
// Pure: no node:* imports. Parse functions return a value or throw CidrError naming the input.

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

export interface Cidr {
  readonly family: IpFamily;
  /** Network address (host bits cleared). */
  readonly network: bigint;
  readonly prefix: number;
}

export class CidrError extends Error {
  override readonly name = 'CidrError';
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function bitsOf(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

function parseIpv4(text: string): bigint | undefined {
  const m = IPV4_RE.exec(text);
  if (!m) return undefined;
  let value = 0n;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return undefined; // no octal-looking octets
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length < 2) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups = s.split(':');
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const left = parseGroups(halves[0]!);
  const right = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!left || !right) return undefined;
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/** Parses a bare address ("10.0.0.1", "fd00::1"). Throws CidrError. */
export function parseIp(text: string): IpAddress {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = text.includes(':') ? parseIpv6(text) : undefined;
  if (v6 !== undefined) return { family: 6, value: v6 };
  throw new CidrError(`"${text}" is not an IPv4 or IPv6 address`);
}

export function tryParseIp(text: string): IpAddress | undefined {
  try {
    return parseIp(text);
  } catch {
    return undefined;
  }
}

function maskOf(family: IpFamily, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  const hostBits = bits - BigInt(prefix);
  return ((1n << bits) - 1n) ^ ((1n << hostBits) - 1n);
}

/**
 * Parses "a.b.c.d/n" or "x::/n". With `strict`, host bits must be zero (as Kubernetes requires of ipBlock.cidr);
 * otherwise they are cleared. A bare address is accepted as a host prefix.
 */
export function parseCidr(text: string, opts: { strict?: boolean } = {}): Cidr {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parseIp(addrText);
  const bits = bitsOf(addr.family);
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) {
      throw new CidrError(`"${text}" has an invalid prefix length (must be 0-${bits})`);
    }
    prefix = Number(p);
  }
  const network = addr.value & maskOf(addr.family, prefix);
  if (opts.strict && network !== addr.value) {
    throw new CidrError(
      `"${text}" has host bits set; the network is ${formatCidr({ family: addr.family, network, prefix })}`,
    );
  }
  return { family: addr.family, network, prefix };
}

export function formatIp(addr: IpAddress): string {
  if (addr.family === 4) {
    const v = addr.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (length >= 2) of zero groups, leftmost on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp({ family: c.family, value: c.network })}/${c.prefix}`;
}

export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(bitsOf(c.family) - c.prefix);
}

export function lastAddress(c: Cidr): bigint {
  return c.network + cidrSize(c) - 1n;
}

export function cidrContains(c: Cidr, addr: IpAddress): boolean {
  return c.family === addr.family && (addr.value & maskOf(c.family, c.prefix)) === c.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  const m = maskOf(a.family, p);
  return (a.network & m) === (b.network & m);
}

/** The index-th subnet of `prefix` inside `parent` (e.g. the 3rd /24 of 10.244.0.0/16). */
export function subnetAt(parent: Cidr, prefix: number, index: number): Cidr {
  if (prefix < parent.prefix || prefix > bitsOf(parent.family)) {
    throw new CidrError(`cannot carve /${prefix} subnets out of ${formatCidr(parent)}`);
  }
  const count = 1n << BigInt(prefix - parent.prefix);
  if (index < 0 || BigInt(index) >= count) {
    throw new CidrError(
      `${formatCidr(parent)} has only ${count} /${prefix} subnets; index ${index} is out of range`,
    );
  }
  const step = 1n << BigInt(bitsOf(parent.family) - prefix);
  return { family: parent.family, network: parent.network + step * BigInt(index), prefix };
}

export function addressAt(c: Cidr, offset: bigint): IpAddress {
  return { family: c.family, value: c.network + offset };
}

export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    outer.prefix <= inner.prefix &&
    cidrContains(outer, { family: inner.family, value: inner.network })
  );
}

/** The two halves of a prefix (one bit longer). */
function halves(c: Cidr): [Cidr, Cidr] {
  const bit = 1n << BigInt(bitsOf(c.family) - c.prefix - 1);
  return [
    { family: c.family, network: c.network, prefix: c.prefix + 1 },
    { family: c.family, network: c.network | bit, prefix: c.prefix + 1 },
  ];
}

/** base minus every except, as a minimal list of disjoint prefixes (ipBlock.cidr minus ipBlock.except). */
export function subtractCidrs(base: Cidr, excepts: readonly Cidr[]): Cidr[] {
  const relevant = excepts.filter((e) => cidrsOverlap(base, e));
  if (relevant.length === 0) return [base];
  if (relevant.some((e) => cidrContainsCidr(e, base))) return [];
  const [lo, hi] = halves(base);
  return [...subtractCidrs(lo, relevant), ...subtractCidrs(hi, relevant)];
}

/** Drops prefixes contained in others and duplicates: the result is disjoint (prefixes nest or are apart). */
export function disjointCidrs(cidrs: readonly Cidr[]): Cidr[] {
  const sorted = [...cidrs].sort((a, b) => a.prefix - b.prefix);
  const out: Cidr[] = [];
  for (const c of sorted) {
    if (!out.some((o) => cidrContainsCidr(o, c))) out.push(c);
  }
  return out.sort(
    (a, b) => a.family - b.family || (a.network < b.network ? -1 : a.network > b.network ? 1 : 0),
  );
}
