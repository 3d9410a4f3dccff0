// Which nodes' forward hooks a flow crosses, and the packet each one sees. With per-node tables from the
// compiler, this decides a flow end to end the way the kernels of the cluster would. Pure.

import { evaluatePacket, type Packet } from '../ir/eval.js';
import type { CtState, Hook, Table } from '../ir/ir.js';
import type { ClusterState, Flow, PodInfo } from '../model/cluster.js';

/** Any interface that is not a pod's: the node's uplink. */
export const UPLINK = 'uplink';

export interface Hop {
  readonly node: string;
  readonly packet: Packet;
  /** The hooks the packet crosses on that node, in order. */
  readonly hooks: readonly Hook[];
}

function podByIp(state: ClusterState, ip: string): PodInfo | undefined {
  return state.pods.find((p) => p.ips.includes(ip));
}

function nodeByIp(state: ClusterState, ip: string): string | undefined {
  return state.nodes.find((n) => n.ips.includes(ip))?.name;
}

const FORWARD: readonly Hook[] = ['prerouting', 'forward'];
const INPUT: readonly Hook[] = ['prerouting', 'input'];
const OUTPUT: readonly Hook[] = ['output'];

/**
 * The hops of a flow's first packet: on the source's node, forward (a pod's packet) or output (the node's own);
 * on the destination's node, forward (to a pod) or input (to the node). A packet between two pods of one node
 * is one forward hop; between a node and its own pod, one output or input hop (never the forward hook).
 */
export function hopsOf(state: ClusterState, flow: Flow, ctState: CtState = 'new'): Hop[] {
  const base = {
    saddr: flow.srcIp,
    daddr: flow.dstIp,
    protocol: flow.protocol,
    dport: flow.dstPort,
    ctState,
  };
  const src = podByIp(state, flow.srcIp);
  const dst = podByIp(state, flow.dstIp);
  const srcNode = src?.node ?? nodeByIp(state, flow.srcIp);
  const dstNode = dst?.node ?? nodeByIp(state, flow.dstIp);
  if (src && src === dst) return []; // a pod to itself stays inside its own netns
  const iface = (p: PodInfo | undefined) => p?.interface ?? UPLINK;
  if (srcNode !== undefined && srcNode === dstNode) {
    const packet = { ...base, iifname: src ? iface(src) : '', oifname: dst ? iface(dst) : '' };
    if (src && dst) return [{ node: srcNode, packet, hooks: FORWARD }];
    if (src) return [{ node: srcNode, packet: { ...packet, daddrLocal: true }, hooks: INPUT }];
    return [{ node: srcNode, packet, hooks: OUTPUT }];
  }
  const hops: Hop[] = [];
  if (srcNode !== undefined)
    hops.push({
      node: srcNode,
      packet: { ...base, iifname: src ? iface(src) : '', oifname: UPLINK },
      hooks: src ? FORWARD : OUTPUT,
    });
  if (dstNode !== undefined)
    hops.push({
      node: dstNode,
      packet: { ...base, iifname: UPLINK, oifname: dst ? iface(dst) : '', daddrLocal: !dst },
      hooks: dst ? FORWARD : INPUT,
    });
  return hops;
}

export interface FlowDecision {
  readonly allowed: boolean;
  readonly hops: readonly {
    readonly node: string;
    readonly verdict: 'accept' | 'drop';
    readonly trail: readonly string[];
  }[];
}

/** Decides a flow through every node table it crosses; allowed iff every hop accepts. */
export function decideFlow(
  state: ClusterState,
  tables: ReadonlyMap<string, Table>,
  flow: Flow,
): FlowDecision {
  const hops = hopsOf(state, flow).map((h) => {
    const table = tables.get(h.node);
    if (!table) throw new Error(`no compiled table for node ${h.node}`);
    const v = evaluatePacket(table, h.packet, h.hooks);
    return { node: h.node, verdict: v.verdict, trail: v.trail };
  });
  return { allowed: hops.every((h) => h.verdict === 'accept'), hops };
}
