// The allocation strategy, free of I/O: in which order to try the addresses of a range set. Round-robin from the
// last reserved address, as containernetworking's host-local does, so a just-released address is reused last
// (stale conntrack entries or policy for the old pod never hit a new one while other addresses are free).
import { formatCidr, formatIp, type IpAddress, tryParseIp } from '../model/cidr.js';
import { allocatableCount, type IpRange, type RangeSet, rangeContains, rangeFor } from './range.js';

export interface Candidate {
  readonly ip: IpAddress;
  /** Canonical text of `ip`, the store's key. */
  readonly text: string;
  readonly range: IpRange;
}

export interface CandidateOptions {
  /** Start right after this address if it lies in one of the set's ranges; otherwise at the first range's start. */
  readonly lastReserved?: IpAddress;
  /** Canonical texts of addresses known to be reserved; they are skipped. */
  readonly taken?: ReadonlySet<string>;
}

interface Segment {
  readonly range: IpRange;
  readonly from: bigint;
  readonly to: bigint;
}

/** The spans to walk: after the last reserved address to the end of the set, then from the top back to it. */
function segments(set: RangeSet, last: IpAddress | undefined): Segment[] {
  const whole = (r: IpRange): Segment => ({ range: r, from: r.start, to: r.end });
  const i = last === undefined ? -1 : set.ranges.findIndex((r) => rangeContains(r, last));
  if (last === undefined || i < 0) return set.ranges.map(whole);
  const r = set.ranges[i]!;
  const rest = [...set.ranges.slice(i + 1), ...set.ranges.slice(0, i)].map(whole);
  return [
    { range: r, from: last.value + 1n, to: r.end },
    ...rest,
    { range: r, from: r.start, to: last.value },
  ];
}

/**
 * Every address of the set that may be handed out, each once, in the order to try them. Lazy: a /8 costs
 * nothing until walked. Skips each range's gateway and the addresses in `taken`.
 */
export function* candidates(set: RangeSet, opts: CandidateOptions = {}): Generator<Candidate> {
  for (const seg of segments(set, opts.lastReserved)) {
    for (let v = seg.from; v <= seg.to; v++) {
      if (v === seg.range.gateway) continue;
      const ip: IpAddress = { family: set.family, value: v };
      const text = formatIp(ip);
      if (opts.taken?.has(text)) continue;
      yield { ip, text, range: seg.range };
    }
  }
}

/** How many more addresses the set can hand out, given the reserved ones (canonical texts). */
export function freeInSet(set: RangeSet, reserved: Iterable<string>): bigint {
  let free = set.ranges.reduce((n, r) => n + allocatableCount(r), 0n);
  for (const text of reserved) {
    const addr = tryParseIp(text);
    if (addr && rangeFor(set, addr)) free--;
  }
  return free;
}

/** The name under which the set's last reserved address is remembered: its first subnet, e.g. "10.244.1.0_24". */
export function hintKey(set: RangeSet): string {
  return formatCidr(set.ranges[0]!.subnet).replace('/', '_');
}
