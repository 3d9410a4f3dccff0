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

/**
 * Runs in the node's netns: create the pair (pod end straight into the pod netns), bring up, route. With IPv6,
 * the host end gets the pod's gateway address as its only link-local, without DAD: an auto-generated one stays
 * "tentative" for about a second, during which the node cannot resolve its pod's neighbour entry.
 */
export function hostAddScript(spec: PodLinkSpec): string {
  const v6 = spec.addresses.some((a) => a.includes(':'));
  const lines = [
    `link add ${spec.hostIfname} mtu ${spec.mtu} address ${HOST_VETH_MAC} type veth peer name ${spec.ifname} mtu ${spec.mtu} address ${spec.podMac} netns ${spec.netns}`,
    ...(v6
      ? [
          `link set ${spec.hostIfname} addrgenmode none`,
          `addr add ${GATEWAY_V6}/64 dev ${spec.hostIfname} nodad`,
        ]
      : []),
    `link set ${spec.hostIfname} up`,
    ...spec.addresses.map((a) => `route add ${hostPrefix(a)} dev ${spec.hostIfname} scope link`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Runs in the pod's netns: addresses, link up, gateway route and pinned gateway neighbour per family. */
export function podAddScript(spec: PodLinkSpec): string {
  const dev = spec.ifname;
  const lines: string[] = [];
  for (const a of spec.addresses)
    lines.push(`addr add ${hostPrefix(a)} dev ${dev}${a.includes(':') ? ' nodad' : ''}`);
  lines.push(`link set ${dev} up`);
  if (spec.addresses.some((a) => !a.includes(':'))) {
    lines.push(
      `route add ${GATEWAY_V4}/32 dev ${dev} scope link`,
      `route add default via ${GATEWAY_V4} dev ${dev}`,
      `neigh replace ${GATEWAY_V4} lladdr ${HOST_VETH_MAC} dev ${dev} nud permanent`,
    );
  }
  if (spec.addresses.some((a) => a.includes(':'))) {
    lines.push(
      `route add default via ${GATEWAY_V6} dev ${dev}`,
      `neigh replace ${GATEWAY_V6} lladdr ${HOST_VETH_MAC} dev ${dev} nud permanent`,
    );
  }
  return `${lines.join('\n')}\n`;
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
