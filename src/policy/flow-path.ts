// Which nodes' forward hooks a flow crosses, and the packet each one sees. With per-node tables from the
// compiler, this decides a flow end to end the way the kernels of the cluster would. Pure.

import { evaluatePacket, type Packet } from '../ir/eval.js';
import type { CtState, Table } from '../ir/ir.js';
import type { ClusterState, Flow, PodInfo } from '../model/cluster.js';

/** Any interface that is not a pod's: the node's uplink. */
export const UPLINK = 'uplink';

export interface Hop {
  readonly node: string;
  readonly packet: Packet;
}

function podByIp(state: ClusterState, ip: string): PodInfo | undefined {
  return state.pods.find((p) => p.ips.includes(ip));
}

function nodeByIp(state: ClusterState, ip: string): string | undefined {
  return state.nodes.find((n) => n.ips.includes(ip))?.name;
}

/**
 * The forward-hook hops of a flow's first packet. A node's own traffic to or from its pods does not cross the
 * forward hook (it is output/input), so it has no hops and is never filtered.
 */
export function hopsOf(state: ClusterState, flow: Flow, ctState: CtState = 'new'): Hop[] {
  const src = podByIp(state, flow.srcIp);
  const dst = podByIp(state, flow.dstIp);
  const base = {
    saddr: flow.srcIp,
    daddr: flow.dstIp,
    protocol: flow.protocol,
    dport: flow.dstPort,
    ctState,
  };
  const hops: Hop[] = [];
  const srcNode = src?.node;
  const dstNode = dst?.node;
  if (src && src === dst) return []; // a pod to itself stays inside its own netns
  if (src && dst && srcNode === dstNode) {
    return [
      {
        node: src.node,
        packet: { ...base, iifname: src.interface ?? UPLINK, oifname: dst.interface ?? UPLINK },
      },
    ];
  }
  if (src)
    hops.push({ node: src.node, packet: { ...base, iifname: src.interface ?? UPLINK, oifname: UPLINK } });
  if (dst && nodeByIp(state, flow.srcIp) !== dst.node) {
    hops.push({ node: dst.node, packet: { ...base, iifname: UPLINK, oifname: dst.interface ?? UPLINK } });
  }
  if (src && nodeByIp(state, flow.dstIp) === src.node) return [];
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
    const v = evaluatePacket(table, h.packet);
    return { node: h.node, verdict: v.verdict, trail: v.trail };
  });
  return { allowed: hops.every((h) => h.verdict === 'accept'), hops };
}
