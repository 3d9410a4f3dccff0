// The `ipam` object of a CNI network config: parse and validate, reporting every problem at once, each naming
// its field path and value. Pure.
import {
  type Cidr,
  CidrError,
  cidrContains,
  cidrsOverlap,
  formatCidr,
  formatIp,
  parseCidr,
  parseIp,
} from '../model/cidr.js';
import { allocatableCount, defaultBounds, type IpRange, type RangeSet, rangeText } from './range.js';

export interface IpamConfig {
  readonly type: 'palisade';
  /** Root of the store; each network gets `<dataDir>/<network>/`. */
  readonly dataDir: string;
  /** One address is allocated from each set (typically one IPv4 and one IPv6 set). */
  readonly rangeSets: readonly RangeSet[];
}

export type ParseResult = { ok: true; config: IpamConfig } | { ok: false; errors: string[] };

export const DEFAULT_DATA_DIR = '/var/lib/cni/palisade';

const TOP_KEYS = ['type', 'subnet', 'rangeStart', 'rangeEnd', 'gateway', 'ranges', 'dataDir', 'routes'];
const RANGE_KEYS = ['subnet', 'rangeStart', 'rangeEnd', 'gateway'];
const SHORTHAND_KEYS = ['rangeStart', 'rangeEnd', 'gateway'];

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

function checkKeys(raw: Obj, path: string, known: readonly string[], errors: string[]): void {
  for (const [k, v] of Object.entries(raw)) {
    if (!known.includes(k))
      errors.push(`${path}.${k}: ${show(v)} is not a known field (known: ${known.join(', ')})`);
  }
}

/** Parses the `ipam` object. `path` prefixes every message ("ipam" inside a network config). */
export function parseIpamConfig(raw: unknown, path = 'ipam'): ParseResult {
  if (!isObject(raw)) return { ok: false, errors: [`${path}: ${show(raw)} is not an object`] };
  const errors: string[] = [];
  checkKeys(raw, path, TOP_KEYS, errors);
  if (raw.type !== undefined && raw.type !== 'palisade') {
    errors.push(`${path}.type: ${show(raw.type)} is not supported; palisade-cni allocates addresses itself`);
  }
  const dataDir = parseDataDir(raw.dataDir, `${path}.dataDir`, errors);
  const located = parseRangeSets(raw, path, errors);
  checkOverlaps(located, errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, config: { type: 'palisade', dataDir, rangeSets: toRangeSets(located) } };
}

function parseDataDir(raw: unknown, path: string, errors: string[]): string {
  if (raw === undefined) return DEFAULT_DATA_DIR;
  if (typeof raw !== 'string' || !raw.startsWith('/') || raw.includes('\u0000')) {
    errors.push(`${path}: ${show(raw)} must be an absolute path`);
    return DEFAULT_DATA_DIR;
  }
  return raw;
}

/** A parsed range with where it came from, for overlap messages. */
interface Located {
  readonly setPath: string;
  readonly path: string;
  readonly range: IpRange;
}

function parseRangeSets(raw: Obj, path: string, errors: string[]): Located[] {
  if (raw.subnet !== undefined && raw.ranges !== undefined) {
    errors.push(`${path}: give either "subnet" or "ranges", not both`);
    return [];
  }
  if (raw.subnet !== undefined) {
    const shorthand = Object.fromEntries(Object.entries(raw).filter(([k]) => RANGE_KEYS.includes(k)));
    const range = parseRange(shorthand, path, errors);
    return range ? [{ setPath: path, path, range }] : [];
  }
  for (const k of SHORTHAND_KEYS) {
    if (raw[k] !== undefined)
      errors.push(`${path}.${k}: ${show(raw[k])} only goes with "subnet"; put it in a range`);
  }
  if (raw.ranges === undefined) {
    errors.push(`${path}: needs "subnet" or "ranges"`);
    return [];
  }
  return parseRangesList(raw.ranges, `${path}.ranges`, errors);
}

function parseRangesList(raw: unknown, path: string, errors: string[]): Located[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    errors.push(`${path}: ${show(raw)} must be a non-empty list of range sets`);
    return [];
  }
  const out: Located[] = [];
  raw.forEach((set: unknown, i) => {
    out.push(...parseRangeSet(set, `${path}[${i}]`, errors));
  });
  return out;
}

function parseRangeSet(raw: unknown, setPath: string, errors: string[]): Located[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    errors.push(`${setPath}: ${show(raw)} must be a non-empty list of ranges`);
    return [];
  }
  const out: Located[] = [];
  raw.forEach((r: unknown, j) => {
    const path = `${setPath}[${j}]`;
    if (!isObject(r)) {
      errors.push(`${path}: ${show(r)} is not an object`);
      return;
    }
    const range = parseRange(r, path, errors);
    if (!range) return;
    const first = out[0];
    if (first && first.range.subnet.family !== range.subnet.family) {
      errors.push(
        `${path}.subnet: ${show(formatCidr(range.subnet))} is IPv${range.subnet.family} but ${first.path} is ` +
          `IPv${first.range.subnet.family}; all ranges of a set must be one family`,
      );
      return;
    }
    out.push({ setPath, path, range });
  });
  return out;
}

function parseRange(raw: Obj, path: string, errors: string[]): IpRange | undefined {
  checkKeys(raw, path, RANGE_KEYS, errors);
  const subnet = parseSubnet(raw.subnet, `${path}.subnet`, errors);
  // Without a subnet the addresses are still checked, so that every problem is reported at once.
  const within = (field: string) => parseAddressIn(raw[field], `${path}.${field}`, { subnet, errors });
  const [start, end, gateway] = [within('rangeStart'), within('rangeEnd'), within('gateway')];
  if (!subnet) return undefined;
  const bounds = defaultBounds(subnet);
  return checkedRange(
    {
      subnet,
      start: start ?? bounds.start,
      end: end ?? bounds.end,
      ...(gateway === undefined ? {} : { gateway }),
    },
    path,
    errors,
  );
}

function checkedRange(range: IpRange, path: string, errors: string[]): IpRange | undefined {
  if (range.start > range.end) {
    const fmt = (value: bigint) => formatIp({ family: range.subnet.family, value });
    errors.push(`${path}: rangeStart ${fmt(range.start)} is after rangeEnd ${fmt(range.end)}`);
    return undefined;
  }
  if (allocatableCount(range) <= 0n) {
    errors.push(`${path}: ${rangeText(range)} has no allocatable address`);
    return undefined;
  }
  return range;
}

function parseSubnet(raw: unknown, path: string, errors: string[]): Cidr | undefined {
  if (typeof raw !== 'string') {
    errors.push(`${path}: ${show(raw)} must be a CIDR such as "10.244.1.0/24"`);
    return undefined;
  }
  try {
    return parseCidr(raw, { strict: true });
  } catch (err) {
    if (!(err instanceof CidrError)) throw err;
    errors.push(`${path}: ${err.message}`);
    return undefined;
  }
}

interface Within {
  /** Undefined when the subnet itself is invalid: then only the address syntax is checked. */
  readonly subnet: Cidr | undefined;
  readonly errors: string[];
}

/** An optional address that must lie in the subnet; undefined if absent or invalid (then an error is pushed). */
function parseAddressIn(raw: unknown, path: string, w: Within): bigint | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') {
    w.errors.push(`${path}: ${show(raw)} must be an IP address`);
    return undefined;
  }
  try {
    const addr = parseIp(raw);
    if (w.subnet && !cidrContains(w.subnet, addr)) {
      w.errors.push(`${path}: ${show(raw)} is outside ${formatCidr(w.subnet)}`);
      return undefined;
    }
    return addr.value;
  } catch (err) {
    if (!(err instanceof CidrError)) throw err;
    w.errors.push(`${path}: ${err.message}`);
    return undefined;
  }
}

function checkOverlaps(located: readonly Located[], errors: string[]): void {
  located.forEach((b, j) => {
    const a = located.slice(0, j).find((x) => cidrsOverlap(x.range.subnet, b.range.subnet));
    if (a) {
      errors.push(
        `${b.path}: ${formatCidr(b.range.subnet)} overlaps ${a.path} (${formatCidr(a.range.subnet)})`,
      );
    }
  });
}

function toRangeSets(located: readonly Located[]): RangeSet[] {
  const sets = new Map<string, IpRange[]>();
  for (const l of located) sets.set(l.setPath, [...(sets.get(l.setPath) ?? []), l.range]);
  return [...sets].map(([path, ranges]) => ({ family: ranges[0]!.subnet.family, path, ranges }));
}
