// Host-side veth names and pod MACs: stable for a (container ID, interface) pair. Pure.
import { fnv1a64 } from '../util/hash.js';
import { macFromBytes } from './pod-link-script.js';

export const HOST_VETH_PREFIX = 'pal';
const HOST_VETH_NAME = new RegExp(`^${HOST_VETH_PREFIX}[0-9a-f]{11}$`);

/** "pal" + 11 hex digits of FNV-1a-64(containerID/ifname): 14 characters, within IFNAMSIZ-1. */
export function hostVethName(containerID: string, ifname: string): string {
  return HOST_VETH_PREFIX + fnv1a64(`${containerID}/${ifname}`).slice(0, 11);
}

/** Whether `name` is one hostVethName() makes. */
export function isHostVethName(name: string): boolean {
  return HOST_VETH_NAME.test(name);
}

/** The pod-side MAC: locally administered unicast, derived from the same key, so CHECK and logs can predict it. */
export function podMac(containerID: string, ifname: string): string {
  const hex = fnv1a64(`mac/${containerID}/${ifname}`);
  const bytes = Uint8Array.from({ length: 6 }, (_, i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16));
  return macFromBytes(bytes);
}
