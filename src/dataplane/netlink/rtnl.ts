// Route-netlink messages (rtnetlink(7)): the bytes of the requests that wire a pod, and the reading of the
// kernel's answers. Pure; the socket is palisade-native.node's (netlink-links.ts). Layouts from
// <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>, <linux/if_addr.h>, <linux/neighbour.h>, <linux/veth.h>.
import { parseCidr } from '../../model/cidr.js';

export const NLM_F = { request: 0x1, ack: 0x4, replace: 0x100, excl: 0x200, create: 0x400, dump: 0x300 };
export const NLMSG = { error: 2, done: 3 };
export const RTM = {
  newLink: 16,
  delLink: 17,
  getLink: 18,
  newAddr: 20,
  newRoute: 24,
  newNeigh: 28,
} as const;

const AF_INET = 2;
const AF_INET6 = 10;
const IFLA = { address: 1, ifname: 3, mtu: 4, link: 5, linkinfo: 18, afSpec: 26, netNsFd: 28 };
const IFLA_INFO = { kind: 1, data: 2 };
const VETH_INFO_PEER = 1;
const IFLA_INET6_ADDR_GEN_MODE = 8;
const IN6_ADDR_GEN_MODE_NONE = 1;
const IFF_UP = 0x1;
const IFA = { address: 1, local: 2, flags: 8 };
const IFA_F_NODAD = 0x02;
const RTA = { dst: 1, oif: 4, gateway: 5 };
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE = { universe: 0, link: 253 };
const RTN_UNICAST = 1;
const NDA = { dst: 1, lladdr: 2 };
const NUD_PERMANENT = 0x80;
const NLA_F_NESTED = 0x8000;

const align4 = (n: number) => (n + 3) & ~3;

/** One netlink attribute: type and payload, padded to 4 bytes. */
export function attr(type: number, payload: Buffer): Buffer {
  const out = Buffer.alloc(align4(4 + payload.length));
  out.writeUInt16LE(4 + payload.length, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}

/** A nested attribute holding `children`. */
export const nested = (type: number, ...children: Buffer[]) =>
  attr(type | NLA_F_NESTED, Buffer.concat(children));

/** The type bits of an attribute's type field (without NLA_F_NESTED and NLA_F_NET_BYTEORDER). */
const NLA_TYPE_MASK = 0x3fff;

/** The attributes of `buf` from `offset`, payload by type (the last of a type wins). */
export function readAttrs(buf: Buffer, offset = 0): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = offset;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.set(buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
};
const u8 = (n: number) => Buffer.from([n]);
/** A NUL-terminated string attribute payload. */
export const cstring = (s: string) => Buffer.from(`${s}\0`, 'utf8');

export function macBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-f]{2}$/i.test(p)))
    throw new Error(`MAC address: "${mac}" is not six hex bytes`);
  return Buffer.from(parts.map((p) => Number.parseInt(p, 16)));
}

/** An address's family and network-order bytes. */
export function ipBytes(ip: string): { family: 4 | 6; bytes: Buffer } {
  const c = parseCidr(ip);
  const width = c.family === 4 ? 4 : 16;
  const bytes = Buffer.alloc(width);
  let v = c.network;
  for (let i = width - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return { family: c.family, bytes };
}

const afOf = (family: 4 | 6) => (family === 4 ? AF_INET : AF_INET6);

/** A whole message: header, fixed part, attributes. The sequence number is the caller's. */
export function message(
  type: number,
  flags: number,
  seq: number,
  body: Buffer,
  attrs: Buffer[] = [],
): Buffer {
  const payload = Buffer.concat([body, ...attrs]);
  const out = Buffer.alloc(16 + payload.length);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags | NLM_F.request, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(0, 12);
  payload.copy(out, 16);
  return out;
}

/** struct ifinfomsg */
function ifinfo(opts: { index?: number; flags?: number; change?: number; family?: number } = {}): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(opts.family ?? 0, 0);
  b.writeInt32LE(opts.index ?? 0, 4);
  b.writeUInt32LE(opts.flags ?? 0, 8);
  b.writeUInt32LE(opts.change ?? 0, 12);
  return b;
}

export interface VethSpec {
  readonly name: string;
  readonly mtu: number;
  readonly mac: string;
  readonly peer: {
    readonly name: string;
    readonly mtu: number;
    readonly mac: string;
    readonly netnsFd: number;
  };
}

/** `ip link add NAME mtu M address A type veth peer name P mtu M address B netns FD` */
export function newVeth(seq: number, v: VethSpec): Buffer {
  const peer = Buffer.concat([
    ifinfo(),
    attr(IFLA.ifname, cstring(v.peer.name)),
    attr(IFLA.mtu, u32(v.peer.mtu)),
    attr(IFLA.address, macBytes(v.peer.mac)),
    attr(IFLA.netNsFd, u32(v.peer.netnsFd)),
  ]);
  return message(RTM.newLink, NLM_F.ack | NLM_F.create | NLM_F.excl, seq, ifinfo(), [
    attr(IFLA.ifname, cstring(v.name)),
    attr(IFLA.mtu, u32(v.mtu)),
    attr(IFLA.address, macBytes(v.mac)),
    nested(
      IFLA.linkinfo,
      attr(IFLA_INFO.kind, cstring('veth')),
      nested(IFLA_INFO.data, nested(VETH_INFO_PEER, peer)),
    ),
  ]);
}

/** `ip link set NAME up` */
export function linkUp(seq: number, index: number): Buffer {
  return message(RTM.newLink, NLM_F.ack, seq, ifinfo({ index, flags: IFF_UP, change: IFF_UP }));
}

/** `ip link set NAME addrgenmode none`: no automatic IPv6 link-local address. */
export function addrGenModeNone(seq: number, index: number): Buffer {
  return message(RTM.newLink, NLM_F.ack, seq, ifinfo({ index }), [
    nested(IFLA.afSpec, nested(AF_INET6, attr(IFLA_INET6_ADDR_GEN_MODE, u8(IN6_ADDR_GEN_MODE_NONE)))),
  ]);
}

/** `ip link del NAME`, or by index (a link of the same name made since is never the one deleted). */
export function delLink(seq: number, link: string | number): Buffer {
  return typeof link === 'number'
    ? message(RTM.delLink, NLM_F.ack, seq, ifinfo({ index: link }))
    : message(RTM.delLink, NLM_F.ack, seq, ifinfo(), [attr(IFLA.ifname, cstring(link))]);
}

/** `ip link set INDEX down`: the kernel drops the routes through it at once. */
export function linkDown(seq: number, index: number): Buffer {
  return message(RTM.newLink, NLM_F.ack, seq, ifinfo({ index, flags: 0, change: IFF_UP }));
}

/** `ip link show NAME`: the answer carries the index (readLinkIndex). */
export function getLink(seq: number, name: string): Buffer {
  return message(RTM.getLink, NLM_F.ack, seq, ifinfo(), [attr(IFLA.ifname, cstring(name))]);
}

/** `ip link show`: every link of the namespace (a dump). */
export function dumpLinks(seq: number): Buffer {
  return message(RTM.getLink, NLM_F.dump, seq, ifinfo());
}

/** The links of a dump's answer: name, index, and whether they are up (administratively). */
export function readLinks(msgs: readonly NlMessage[]): { name: string; index: number; up: boolean }[] {
  return msgs
    .filter((m) => m.type === RTM.newLink)
    .map((m) => ({
      name: (readAttrs(m.payload, 16).get(IFLA.ifname) ?? Buffer.alloc(0))
        .toString('utf8')
        .replace(/\0+$/, ''),
      index: m.payload.readInt32LE(4),
      up: (m.payload.readUInt32LE(8) & IFF_UP) !== 0,
    }));
}

/**
 * `ip addr add ADDRESS/PREFIX dev INDEX [nodad]`, with the scope iproute2 picks by default: link for an IPv6
 * link-local address, global otherwise.
 */
export function newAddr(seq: number, index: number, cidr: string, opts: { nodad?: boolean } = {}): Buffer {
  const c = parseCidr(cidr);
  const { family, bytes } = ipBytes(cidr.split('/')[0]!);
  const linkLocal = family === 6 && bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80;
  const flags = opts.nodad ? IFA_F_NODAD : 0;
  const b = Buffer.alloc(8);
  b.writeUInt8(afOf(family), 0);
  b.writeUInt8(c.prefix, 1);
  b.writeUInt8(flags, 2);
  b.writeUInt8(linkLocal ? RT_SCOPE.link : RT_SCOPE.universe, 3);
  b.writeUInt32LE(index, 4);
  return message(RTM.newAddr, NLM_F.ack | NLM_F.create | NLM_F.excl, seq, b, [
    attr(IFA.local, bytes),
    attr(IFA.address, bytes),
    ...(flags ? [attr(IFA.flags, u32(flags))] : []),
  ]);
}

/**
 * `ip route add DST dev INDEX scope link` (no gateway) or `ip route add DST via GW dev INDEX`, in the main
 * table with iproute2's default protocol (boot).
 */
export function newRoute(seq: number, r: { dst: string; index: number; gateway?: string }): Buffer {
  const dst = parseCidr(r.dst);
  const b = Buffer.alloc(12);
  b.writeUInt8(afOf(dst.family), 0);
  b.writeUInt8(dst.prefix, 1);
  b.writeUInt8(RT_TABLE_MAIN, 4);
  b.writeUInt8(RTPROT_BOOT, 5);
  b.writeUInt8(r.gateway ? RT_SCOPE.universe : RT_SCOPE.link, 6);
  b.writeUInt8(RTN_UNICAST, 7);
  const attrs = [attr(RTA.oif, u32(r.index))];
  if (dst.prefix > 0) attrs.unshift(attr(RTA.dst, ipBytes(r.dst.split('/')[0]!).bytes));
  if (r.gateway) attrs.push(attr(RTA.gateway, ipBytes(r.gateway).bytes));
  return message(RTM.newRoute, NLM_F.ack | NLM_F.create | NLM_F.excl, seq, b, attrs);
}

/** `ip neigh replace IP lladdr MAC dev INDEX nud permanent` */
export function replaceNeigh(seq: number, n: { ip: string; mac: string; index: number }): Buffer {
  const { family, bytes } = ipBytes(n.ip);
  const b = Buffer.alloc(12);
  b.writeUInt8(afOf(family), 0);
  b.writeInt32LE(n.index, 4);
  b.writeUInt16LE(NUD_PERMANENT, 8);
  return message(RTM.newNeigh, NLM_F.ack | NLM_F.create | NLM_F.replace, seq, b, [
    attr(NDA.dst, bytes),
    attr(NDA.lladdr, macBytes(n.mac)),
  ]);
}

/** One message of an answer. */
export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** The bytes after the 16-byte header. */
  readonly payload: Buffer;
}

/** Splits the concatenated answers the addon returns into messages. */
export function splitMessages(buf: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      payload: buf.subarray(off + 16, off + len),
    });
    off += align4(len);
  }
  return out;
}

const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

/**
 * The outcome of a request: errno 0 for an acknowledgement, and the kernel's extended-ack message when it gave
 * one ("Permission denied" says less than "Unknown device type"); undefined when the answer has no NLMSG_ERROR.
 */
export function answerError(msgs: readonly NlMessage[]): { errno: number; message?: string } | undefined {
  const err = msgs.find((m) => m.type === NLMSG.error);
  if (!err) return undefined;
  const errno = -err.payload.readInt32LE(0);
  if (!(err.flags & NLM_F_ACK_TLVS)) return { errno };
  // With NETLINK_CAP_ACK the request is echoed as its header only: the attributes start after it.
  const message = readAttrs(err.payload, 4 + 16).get(NLMSGERR_ATTR_MSG);
  return message ? { errno, message: message.toString('utf8').replace(/\0+$/, '') } : { errno };
}

/** The interface index in an RTM_NEWLINK answer to getLink. */
export function readLinkIndex(msgs: readonly NlMessage[]): number | undefined {
  const link = msgs.find((m) => m.type === RTM.newLink);
  return link ? link.payload.readInt32LE(4) : undefined;
}

/** IFLA_LINK of an RTM_NEWLINK answer: for a veth, its peer's index (in the peer's namespace). */
export function readLinkPeerIndex(msgs: readonly NlMessage[]): number | undefined {
  const link = msgs.find((m) => m.type === RTM.newLink);
  return link && readAttrs(link.payload, 16).get(IFLA.link)?.readInt32LE(0);
}
