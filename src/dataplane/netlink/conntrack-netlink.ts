// The agent's conntrack access through ctnetlink in-process (palisade-native.node): listing and deleting
// entries, and the namespace's addresses, without a `conntrack` or `ip` process per policy change.
import { constants } from 'node:os';
import type { ConntrackAccess } from '../../agent/conntrack.js';
import type { NativeAddon } from '../native.js';
import {
  deleteConntrack,
  dumpAddresses,
  dumpConntrack,
  NETLINK_NETFILTER,
  readAddresses,
  readConntrack,
} from './ctnetlink.js';
import { NetlinkError } from './netlink-links.js';
import { answerError, splitMessages } from './rtnl.js';

/** Conntrack of the caller's network namespace, or `netns` (tests). */
export function netlinkConntrack(native: NativeAddon, opts: { netns?: string } = {}): ConntrackAccess {
  let ct: number | undefined;
  let route: number | undefined;
  let seq = 0;
  // On a worker thread: a conntrack dump walks the kernel's whole (global) conntrack hash, ~10 ms however empty.
  // One exchange per socket at a time: the revocation scheduler runs one revocation at a time.
  const exchange = async (fd: number, what: string, build: (seq: number) => Buffer) => {
    seq = (seq + 1) >>> 0;
    const msgs = splitMessages(await native.netlinkExchangeAsync(fd, build(seq)));
    const err = answerError(msgs);
    if (err && err.errno !== 0) throw new NetlinkError(what, err.errno, err.message);
    return msgs;
  };
  return {
    kind: 'netlink',
    async list() {
      ct ??= native.netlinkOpen(opts.netns, NETLINK_NETFILTER);
      route ??= native.netlinkOpen(opts.netns);
      return {
        entries: readConntrack(await exchange(ct, 'list conntrack', dumpConntrack)),
        hostAddrs: readAddresses(await exchange(route, 'list addresses', dumpAddresses)),
      };
    },
    async delete(entry) {
      ct ??= native.netlinkOpen(opts.netns, NETLINK_NETFILTER);
      try {
        await exchange(ct, 'delete conntrack entry', (s) => deleteConntrack(s, entry));
        return true;
      } catch (err) {
        if (err instanceof NetlinkError && err.errno === constants.errno.ENOENT) return false;
        throw err;
      }
    },
  };
}
