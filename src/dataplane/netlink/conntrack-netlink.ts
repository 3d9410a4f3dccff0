// The agent's conntrack access through ctnetlink in-process (palisade-native.node): listing and deleting
// entries, and the namespace's addresses, without a `conntrack` or `ip` process per policy change.
import { constants } from 'node:os';
import type { ConntrackAccess } from '../../agent/conntrack.js';
import type { NativeAddon } from '../native.js';
import { deleteConntrack, dumpAddresses, dumpConntrack, readAddresses, readConntrack } from './ctnetlink.js';
import { NETLINK_NETFILTER } from './nfnetlink.js';
import { NetlinkError, NetlinkSocket } from './socket.js';

/** Conntrack of the caller's network namespace, or `netns` (tests). */
export function netlinkConntrack(native: NativeAddon, opts: { netns?: string } = {}): ConntrackAccess {
  // Kept open. One exchange per socket at a time holds: the revocation scheduler runs one revocation at a time.
  // The exchanges run on a worker thread: a conntrack dump walks the kernel's whole (global) conntrack hash,
  // ~10 ms however empty.
  let ct: NetlinkSocket | undefined;
  let route: NetlinkSocket | undefined;
  const conntrack = () => {
    ct ??= new NetlinkSocket(native, opts.netns, NETLINK_NETFILTER);
    return ct;
  };
  return {
    async list() {
      route ??= new NetlinkSocket(native, opts.netns);
      return {
        entries: readConntrack(await conntrack().request('list conntrack', dumpConntrack)),
        hostAddrs: readAddresses(await route.request('list addresses', dumpAddresses)),
      };
    },
    async delete(entry) {
      try {
        await conntrack().request('delete conntrack entry', (s) => deleteConntrack(s, entry));
        return true;
      } catch (err) {
        if (err instanceof NetlinkError && err.errno === constants.errno.ENOENT) return false;
        throw err;
      }
    },
  };
}
