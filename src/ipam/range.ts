// Address ranges and range sets, the validated form of the config's "ranges". Pure: bigint math from model/cidr.
import {
  type Cidr,
  formatCidr,
  formatIp,
  type IpAddress,
  type IpFamily,
  lastAddress,
} from '../model/cidr.js';

/** One pool: addresses start..end (inclusive) of `subnet`, minus the gateway. */
export interface IpRange {
  readonly subnet: Cidr;
  readonly start: bigint;
  readonly end: bigint;
  readonly gateway?: bigint;
}

/** Ranges tried in order to yield one address; all of one family. */
export interface RangeSet {
  readonly family: IpFamily;
  /** Where the set came from in the config ("ipam.ranges[1]", or "ipam" for the `subnet` shorthand). */
  readonly path: string;
  readonly ranges: readonly IpRange[];
}

/**
 * The usable span when rangeStart/rangeEnd are not given: IPv4 skips the network and broadcast addresses
 * (except /31 and /32, which use all), IPv6 skips the subnet-router anycast address (except /128).
 */
export function defaultBounds(subnet: Cidr): { start: bigint; end: bigint } {
  const last = lastAddress(subnet);
  if (subnet.family === 4) {
    return subnet.prefix >= 31
      ? { start: subnet.network, end: last }
      : { start: subnet.network + 1n, end: last - 1n };
  }
  return subnet.prefix === 128
    ? { start: subnet.network, end: last }
    : { start: subnet.network + 1n, end: last };
}

/** "10.244.1.0/24", or "10.244.1.0/24 range 10.244.1.10-10.244.1.20" when the bounds are not the default. */
export function rangeText(r: IpRange): string {
  const cidr = formatCidr(r.subnet);
  const d = defaultBounds(r.subnet);
  if (d.start === r.start && d.end === r.end) return cidr;
  const fmt = (value: bigint) => formatIp({ family: r.subnet.family, value });
  return `${cidr} range ${fmt(r.start)}-${fmt(r.end)}`;
}

export function rangeContains(r: IpRange, addr: IpAddress): boolean {
  return addr.family === r.subnet.family && addr.value >= r.start && addr.value <= r.end;
}

/** Is `addr` an address this range could hand out (inside the bounds, not the gateway)? */
export function isAllocatable(r: IpRange, addr: IpAddress): boolean {
  return rangeContains(r, addr) && addr.value !== r.gateway;
}

/** The range of the set that could hand out `addr`, if any. */
export function rangeFor(set: RangeSet, addr: IpAddress): IpRange | undefined {
  return set.ranges.find((r) => isAllocatable(r, addr));
}

/** How many addresses the range can hand out. */
export function allocatableCount(r: IpRange): bigint {
  const span = r.end - r.start + 1n;
  const gatewayInside = r.gateway !== undefined && r.gateway >= r.start && r.gateway <= r.end;
  return gatewayInside ? span - 1n : span;
}
