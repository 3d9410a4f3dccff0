// Host-side veth names: stable for a (container ID, interface) pair, at most 15 characters.
import { createHash } from 'node:crypto';

export const HOST_VETH_PREFIX = 'pal';

/** "pal" + 11 hex digits of sha256(containerID/ifname): 14 characters, within IFNAMSIZ-1. */
export function hostVethName(containerID: string, ifname: string): string {
  const digest = createHash('sha256').update(`${containerID}/${ifname}`).digest('hex');
  return HOST_VETH_PREFIX + digest.slice(0, 11);
}
