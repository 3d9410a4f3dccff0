// Conntrack over netlink (ctnetlink, <linux/netfilter/nfnetlink_conntrack.h>) and the namespace's addresses
// (RTM_GETADDR): the requests, and the reading of the answers into the same entries conntrack-parse.ts reads out
// of `conntrack -L`. Pure; the socket is palisade-native.node's. Conntrack attributes are in network byte order.
import type { ConntrackEntry, ConntrackTuple } from '../../agent/conntrack-parse.js';
import { formatIp } from '../../model/cidr.js';
import { PROTOCOL_NUMBERS, type Protocol } from '../../model/k8s.js';
import { nfgen } from './nfnetlink.js';
import { attr, ipBytes, message, NLM_F, type NlMessage, nested, readAttrs } from './rtnl.js';

const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_GET = 1;
const IPCTNL_MSG_CT_DELETE = 2;
const CT_TYPE = (msg: number) => (NFNL_SUBSYS_CTNETLINK << 8) | msg;
const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_INET6 = 10;
const CTA = { tupleOrig: 1, tupleReply: 2, status: 3, protoinfo: 4, mark: 8, zone: 18 };
const CTA_TUPLE = { ip: 1, proto: 2 };
const CTA_IP = { v4src: 1, v4dst: 2, v6src: 3, v6dst: 4 };
const CTA_PROTO = { num: 1, sport: 2, dport: 3 };
const CTA_PROTOINFO = { tcp: 1, sctp: 3 };
const IPS_SEEN_REPLY = 1 << 1;
const IPS_ASSURED = 1 << 2;
const PROTOCOLS: Readonly<Record<number, Protocol>> = Object.fromEntries(
  Object.entries(PROTOCOL_NUMBERS).map(([p, n]) => [n, p as Protocol]),
);
const TCP_STATES = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
];
const SCTP_STATES = [
  'NONE',
  'CLOSED',
  'COOKIE_WAIT',
  'COOKIE_ECHOED',
  'ESTABLISHED',
  'SHUTDOWN_SENT',
  'SHUTDOWN_RECD',
  'SHUTDOWN_ACK_SENT',
  'HEARTBEAT_SENT',
];
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;

/** `conntrack -L`: every entry of both families. */
export function dumpConntrack(seq: number): Buffer {
  return message(CT_TYPE(IPCTNL_MSG_CT_GET), NLM_F.dump, seq, nfgen(AF_UNSPEC));
}

/** `ip addr show`: every address of the namespace. */
export function dumpAddresses(seq: number): Buffer {
  return message(RTM_GETADDR, NLM_F.dump, seq, Buffer.alloc(8));
}

/** An address's text from its network-order bytes, as the rest of Palisade writes it (model/cidr.ts). */
function ipText(b: Buffer): string {
  let value = 0n;
  for (const byte of b) value = (value << 8n) | BigInt(byte);
  return formatIp({ family: b.length === 4 ? 4 : 6, value });
}

function readTuple(b: Buffer | undefined): { tuple: ConntrackTuple; proto: number } | undefined {
  if (!b) return undefined;
  const t = readAttrs(b);
  const ip = t.get(CTA_TUPLE.ip);
  const proto = t.get(CTA_TUPLE.proto);
  if (!ip || !proto) return undefined;
  const a = readAttrs(ip);
  const p = readAttrs(proto);
  const src = a.get(CTA_IP.v4src) ?? a.get(CTA_IP.v6src);
  const dst = a.get(CTA_IP.v4dst) ?? a.get(CTA_IP.v6dst);
  const num = p.get(CTA_PROTO.num);
  if (!src || !dst || !num) return undefined;
  return {
    proto: num.readUInt8(0),
    tuple: {
      src: ipText(src),
      dst: ipText(dst),
      sport: p.get(CTA_PROTO.sport)?.readUInt16BE(0) ?? 0,
      dport: p.get(CTA_PROTO.dport)?.readUInt16BE(0) ?? 0,
    },
  };
}

/** The entries of a conntrack dump's answer (TCP, UDP and SCTP only, as parseConntrack returns them). */
export function readConntrack(msgs: readonly NlMessage[]): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const m of msgs) {
    if (m.type !== CT_TYPE(0) || m.payload.length < 4) continue; // IPCTNL_MSG_CT_NEW: one entry
    const family = m.payload.readUInt8(0) === AF_INET6 ? 6 : 4;
    const a = readAttrs(m.payload, 4);
    const orig = readTuple(a.get(CTA.tupleOrig));
    const reply = readTuple(a.get(CTA.tupleReply));
    const protocol = orig && PROTOCOLS[orig.proto];
    if (!orig || !reply || !protocol) continue;
    const status = a.get(CTA.status)?.readUInt32BE(0) ?? 0;
    let state: string | undefined;
    const info = a.get(CTA.protoinfo);
    if (info && protocol !== 'UDP') {
      const perProtocol = readAttrs(info).get(protocol === 'TCP' ? CTA_PROTOINFO.tcp : CTA_PROTOINFO.sctp);
      const code = perProtocol && readAttrs(perProtocol).get(1)?.readUInt8(0);
      if (code !== undefined) state = (protocol === 'TCP' ? TCP_STATES : SCTP_STATES)[code];
    }
    out.push({
      family,
      protocol,
      ...(state ? { state } : {}),
      original: orig.tuple,
      reply: reply.tuple,
      assured: (status & IPS_ASSURED) !== 0,
      unreplied: (status & IPS_SEEN_REPLY) === 0,
      mark: a.get(CTA.mark)?.readUInt32BE(0) ?? 0,
      zone: a.get(CTA.zone)?.readUInt16BE(0) ?? 0,
    });
  }
  return out;
}

/** Every local address in an RTM_GETADDR dump's answer. */
export function readAddresses(msgs: readonly NlMessage[]): Set<string> {
  const out = new Set<string>();
  for (const m of msgs) {
    if (m.type !== RTM_NEWADDR) continue;
    const a = readAttrs(m.payload, 8);
    const ip = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
    if (ip) out.add(ipText(ip));
  }
  return out;
}

const be16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
};

/** `conntrack -D` of one entry, by its ORIGINAL tuple (and zone). */
export function deleteConntrack(seq: number, e: ConntrackEntry): Buffer {
  const [srcType, dstType] = e.family === 4 ? [CTA_IP.v4src, CTA_IP.v4dst] : [CTA_IP.v6src, CTA_IP.v6dst];
  const tuple = nested(
    CTA.tupleOrig,
    nested(
      CTA_TUPLE.ip,
      attr(srcType, ipBytes(e.original.src).bytes),
      attr(dstType, ipBytes(e.original.dst).bytes),
    ),
    nested(
      CTA_TUPLE.proto,
      attr(CTA_PROTO.num, Buffer.from([PROTOCOL_NUMBERS[e.protocol]])),
      attr(CTA_PROTO.sport, be16(e.original.sport)),
      attr(CTA_PROTO.dport, be16(e.original.dport)),
    ),
  );
  return message(CT_TYPE(IPCTNL_MSG_CT_DELETE), NLM_F.ack, seq, nfgen(e.family === 4 ? AF_INET : AF_INET6), [
    tuple,
    ...(e.zone ? [attr(CTA.zone, be16(e.zone))] : []),
  ]);
}
