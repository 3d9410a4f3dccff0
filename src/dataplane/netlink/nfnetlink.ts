// What every netfilter netlink subsystem shares (<linux/netfilter/nfnetlink.h>): the protocol, the generic header
// after the netlink header, and the batch framing nf_tables transactions use. Pure.
import { message } from './rtnl.js';

export const NETLINK_NETFILTER = 12;
export const NFNL_SUBSYS_NFTABLES = 10;
const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;

/** struct nfgenmsg: the address family the request is about, version 0, and a resource id (big-endian). */
export function nfgen(family: number, resId = 0): Buffer {
  const b = Buffer.from([family, 0, 0, 0]);
  b.writeUInt16BE(resId, 2);
  return b;
}

/**
 * The messages that open and close a batch of nf_tables requests, which the kernel commits as one transaction.
 * Neither asks for an answer: numbered like the first and the last request, they keep the batch's sequence
 * numbers those of the requests the kernel acknowledges.
 */
export const batchBegin = (seq: number) =>
  message(NFNL_MSG_BATCH_BEGIN, 0, seq, nfgen(0, NFNL_SUBSYS_NFTABLES));
export const batchEnd = (seq: number) => message(NFNL_MSG_BATCH_END, 0, seq, nfgen(0, NFNL_SUBSYS_NFTABLES));
