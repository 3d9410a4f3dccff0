// Builds the `ip -batch` scripts that wire a pod in routed mode. Pure: tested as exact text.
//
// Routed mode (docs/adr/0001-routed-pod-networking.md): the pod gets its addresses as /32 and /128 on the
// container side of a veth pair; its default route points at a link-local gateway whose neighbour entry is
// pinned to the host side's fixed MAC, so the pod never ARPs; the node routes each pod address to its host veth.
import { formatIp, parseCidr } from '../model/cidr.js';

/** The MAC every host-side veth carries (as Calico does): the pod pins its gateway neighbour to it. */
export const HOST_VETH_MAC = 'ee:ee:ee:ee:ee:ee';
/** IPv4 gateway the pod routes through; link-local, so it never collides with a cluster address. */
export const GATEWAY_V4 = '169.254.1.1';
/** IPv6 gateway: the host veth's EUI-64 link-local address derived from HOST_VETH_MAC. */
export const GATEWAY_V6 = 'fe80::ecee:eeff:feee:eeee';

export interface PodLinkSpec {
  /** Path of the pod's network namespace (CNI_NETNS). */
  readonly netns: string;
  /** Interface name inside the pod (CNI_IFNAME). */
  readonly ifname: string;
  /** Host-side veth name (see vethName). */
  readonly hostIfname: string;
  readonly mtu: number;
  /** MAC of the pod-side interface. */
  readonly podMac: string;
  /** Bare pod addresses, one per family. */
  readonly addresses: readonly string[];
}

function hostPrefix(address: string): string {
  return address.includes(':') ? `${address}/128` : `${address}/32`;
}

/** One step of wiring an interface that exists, the same for `ip -batch` and for netlink (netlink-links.ts). */
export type LinkStep =
  | { readonly op: 'addrgenmode-none' }
  | { readonly op: 'addr'; readonly cidr: string; readonly nodad: boolean }
  | { readonly op: 'up' }
  /** No gateway: a route on the link (scope link); with one, via it. */
  | { readonly op: 'route'; readonly dst: string; readonly gateway?: string }
  | { readonly op: 'neigh'; readonly ip: string; readonly mac: string };

/**
 * The node side once the pair exists: bring up, route. With IPv6, the host end gets the pod's gateway address as
 * its only link-local, without DAD: an auto-generated one stays "tentative" for about a second, during which the
 * node cannot resolve its pod's neighbour entry.
 */
export function hostSteps(spec: PodLinkSpec): LinkStep[] {
  const v6 = spec.addresses.some((a) => a.includes(':'));
  return [
    ...(v6
      ? [{ op: 'addrgenmode-none' } as const, { op: 'addr', cidr: `${GATEWAY_V6}/64`, nodad: true } as const]
      : []),
    { op: 'up' },
    ...spec.addresses.map((a) => ({ op: 'route', dst: hostPrefix(a) }) as const),
  ];
}

/** The pod side: addresses, link up, gateway route and pinned gateway neighbour per family. */
export function podSteps(spec: PodLinkSpec): LinkStep[] {
  const steps: LinkStep[] = spec.addresses.map((a) => ({
    op: 'addr',
    cidr: hostPrefix(a),
    nodad: a.includes(':'),
  }));
  steps.push({ op: 'up' });
  if (spec.addresses.some((a) => !a.includes(':'))) {
    steps.push(
      { op: 'route', dst: `${GATEWAY_V4}/32` },
      { op: 'route', dst: '0.0.0.0/0', gateway: GATEWAY_V4 },
      { op: 'neigh', ip: GATEWAY_V4, mac: HOST_VETH_MAC },
    );
  }
  if (spec.addresses.some((a) => a.includes(':'))) {
    steps.push(
      { op: 'route', dst: '::/0', gateway: GATEWAY_V6 },
      { op: 'neigh', ip: GATEWAY_V6, mac: HOST_VETH_MAC },
    );
  }
  return steps;
}

/** A step as an `ip -batch` line on interface `dev`. */
function ipLine(step: LinkStep, dev: string): string {
  switch (step.op) {
    case 'addrgenmode-none':
      return `link set ${dev} addrgenmode none`;
    case 'addr':
      return `addr add ${step.cidr} dev ${dev}${step.nodad ? ' nodad' : ''}`;
    case 'up':
      return `link set ${dev} up`;
    case 'route': {
      if (!step.gateway) return `route add ${step.dst} dev ${dev} scope link`;
      const dst = step.dst === '0.0.0.0/0' || step.dst === '::/0' ? 'default' : step.dst;
      return `route add ${dst} via ${step.gateway} dev ${dev}`;
    }
    case 'neigh':
      return `neigh replace ${step.ip} lladdr ${step.mac} dev ${dev} nud permanent`;
  }
}

/** Runs in the node's netns: create the pair (pod end straight into the pod netns), then hostSteps. */
export function hostAddScript(spec: PodLinkSpec): string {
  const lines = [
    `link add ${spec.hostIfname} mtu ${spec.mtu} address ${HOST_VETH_MAC} type veth peer name ${spec.ifname} mtu ${spec.mtu} address ${spec.podMac} netns ${spec.netns}`,
    ...hostSteps(spec).map((step) => ipLine(step, spec.hostIfname)),
  ];
  return `${lines.join('\n')}\n`;
}

/** Runs in the pod's netns: podSteps. */
export function podAddScript(spec: PodLinkSpec): string {
  return `${podSteps(spec)
    .map((step) => ipLine(step, spec.ifname))
    .join('\n')}\n`;
}

/** Canonical text of an address so "fd00:0::5" and "fd00::5" compare equal. */
export function canonicalIp(address: string): string {
  const c = parseCidr(address);
  return formatIp({ family: c.family, value: c.network });
}

/** A locally administered unicast MAC from 6 random bytes. */
export function macFromBytes(bytes: Uint8Array): string {
  const b = Array.from(bytes.slice(0, 6));
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
