// The outside host: a machine beyond the cluster on the underlay (198.18.0.3), with extra addresses a test
// sends from (an "allowed" and a "not allowed" source of a host firewall). Addresses inside the underlay's /24
// sit on its uplink; any other address sits on its loopback, its network routed by every node via the outside
// host (as a router beyond the cluster would be), and the outside host routes each node's pod CIDR via that
// node. It also serves a few ports of its own, so that egress from pods and nodes has somewhere to go. Pure.
import {
  type Cidr,
  cidrContains,
  cidrsOverlap,
  formatCidr,
  formatIp,
  type IpAddress,
  parseCidr,
  subnetAt,
  tryParseIp,
} from '../model/cidr.js';
import { CLUSTER_POD_CIDR, type LabPlan, MAX_NODES, UNDERLAY } from './plan.js';
import type { PortSpec } from './pod-server-config.js';

/** The outside host's own (primary) address: the one `outside` means. */
export const OUTSIDE_IP = '198.18.0.3';
/** Always present besides OUTSIDE_IP: three more on the underlay, two in a network routed via the outside host. */
export const DEFAULT_OUTSIDE_ADDRESSES: readonly string[] = [
  '198.18.0.4',
  '198.18.0.5',
  '198.18.0.6',
  '203.0.113.10/24',
  '203.0.113.11/24',
];
/** What the outside host serves (its server answers "outside"): web and DNS, as "the internet" would. */
export const OUTSIDE_PORTS: readonly PortSpec[] = [
  { port: 80, protocol: 'TCP' },
  { port: 443, protocol: 'TCP' },
  { port: 53, protocol: 'UDP' },
  { port: 80, protocol: 'UDP' },
];
/** The prefix of an outside address given without one, outside the underlay. */
const DEFAULT_ROUTED_PREFIX = 24;
/** The Service CIDR of the lab with a control plane: routed nowhere else. */
const SERVICE_CIDR = parseCidr('10.96.0.0/16');
const UNDERLAY_24 = subnetAt(UNDERLAY, 24, 0);
/** Not unicast addresses a host could hold and be reached at. */
const NOT_UNICAST = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4'].map((c) =>
  parseCidr(c),
);

export interface OutsideAddress {
  /** The address, without prefix. */
  readonly ip: string;
  /** The network nodes route via the outside host; absent for an address on the underlay. */
  readonly routed?: string;
}

export class OutsideAddressError extends Error {
  override readonly name = 'OutsideAddressError';
}

/** Underlay addresses the lab gives to others: .0, the control plane .2, the outside host .3, nodes, broadcast. */
function takenOnUnderlay(ip: IpAddress): boolean {
  const host = Number(ip.value - UNDERLAY_24.network);
  return host === 0 || host === 2 || host === 3 || (host >= 11 && host <= 10 + MAX_NODES) || host === 255;
}

function parseOne(spec: string, at: string): OutsideAddress | string {
  const [addrText = '', prefixText] = spec.split('/');
  const ip = tryParseIp(addrText);
  if (ip?.family !== 4 || spec.split('/').length > 2)
    return `${at}: "${spec}" is not ADDRESS[/PREFIX] (IPv4)`;
  if (NOT_UNICAST.some((c) => cidrContains(c, ip))) return `${at}: "${spec}" is not a unicast address`;
  if (cidrContains(UNDERLAY_24, ip)) {
    if (takenOnUnderlay(ip)) return `${at}: ${formatIp(ip)} belongs to the lab (control plane, nodes)`;
    if (prefixText !== undefined && prefixText !== '24')
      return `${at}: "${spec}" is on the underlay ${formatCidr(UNDERLAY_24)}: give no prefix or /24`;
    return { ip: formatIp(ip) };
  }
  let net: Cidr;
  try {
    net = parseCidr(`${addrText}/${prefixText ?? DEFAULT_ROUTED_PREFIX}`);
  } catch (err) {
    return `${at}: ${(err as Error).message}`;
  }
  if (net.prefix < 8) return `${at}: "${spec}": a routed network must be /8 or longer`;
  for (const [what, c] of [
    ['the underlay', UNDERLAY_24],
    ['the pod CIDR', CLUSTER_POD_CIDR],
    ['the Service CIDR', SERVICE_CIDR],
  ] as const) {
    if (cidrsOverlap(net, c)) return `${at}: ${formatCidr(net)} overlaps ${what} ${formatCidr(c)}`;
  }
  return { ip: formatIp(ip), routed: formatCidr(net) };
}

/**
 * The outside host's extra addresses: the defaults, then `extra` (each "ADDRESS[/PREFIX]"; outside the underlay
 * the prefix, default /24, is the network nodes route via the outside host). Every problem is reported at once.
 */
export function planOutsideAddresses(extra: readonly string[] = []): OutsideAddress[] {
  const problems: string[] = [];
  const out: OutsideAddress[] = [];
  const seen = new Set([OUTSIDE_IP]);
  const specs = [...DEFAULT_OUTSIDE_ADDRESSES, ...extra];
  specs.forEach((spec, i) => {
    const n = i - DEFAULT_OUTSIDE_ADDRESSES.length;
    const at = n < 0 ? 'default' : `--outside-address[${n}]`;
    const a = parseOne(spec.trim(), at);
    if (typeof a === 'string') problems.push(a);
    else if (seen.has(a.ip)) problems.push(`${at}: ${a.ip} is already an outside address`);
    else {
      seen.add(a.ip);
      out.push(a);
    }
  });
  if (problems.length > 0) throw new OutsideAddressError(problems.join('; '));
  return out;
}

/** Every address of the outside host, its own first. */
export function outsideIps(addresses: readonly OutsideAddress[]): string[] {
  return [OUTSIDE_IP, ...addresses.map((a) => a.ip)];
}

/** The networks routed via the outside host, each once. */
export function routedNetworks(addresses: readonly OutsideAddress[]): string[] {
  return [...new Set(addresses.flatMap((a) => (a.routed ? [a.routed] : [])))];
}

/** ip -batch script for the outside host (after hostScript): its extra addresses. */
export function outsideAddressScript(
  plan: LabPlan,
  uplink: string,
  addresses: readonly OutsideAddress[],
): string {
  const lines = addresses.map((a) =>
    a.routed ? `addr add ${a.ip}/32 dev lo` : `addr add ${a.ip}/${plan.underlayPrefix} dev ${uplink}`,
  );
  return `${lines.join('\n')}\n`;
}

/** ip -batch script for the outside host: each node's pod CIDR via that node (run once the CIDRs are known). */
export function outsidePodRoutesScript(plan: LabPlan, uplink: string): string {
  return `${plan.nodes.map((n) => `route add ${n.podCIDR} via ${n.underlayIP} dev ${uplink}`).join('\n')}\n`;
}

/** ip -batch script for a node: the outside host's routed networks via the outside host. */
export function nodeOutsideRoutesScript(
  node: { readonly uplink: string },
  addresses: readonly OutsideAddress[],
): string {
  return `${routedNetworks(addresses)
    .map((net) => `route add ${net} via ${OUTSIDE_IP} dev ${node.uplink}`)
    .join('\n')}\n`;
}
