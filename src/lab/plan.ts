// Names and addresses of a lab, derived from its directory and size. Pure: the same inputs give the same lab.

import { addressAt, type Cidr, formatCidr, formatIp, parseCidr, subnetAt } from '../model/cidr.js';
import { fnv1a32 } from '../util/hash.js';

export const UNDERLAY = parseCidr('198.18.0.0/15');
export const CLUSTER_POD_CIDR = parseCidr('10.244.0.0/16');
export const NODE_POD_PREFIX = 24;
export const MAX_NODES = 200;

export interface NodePlan {
  readonly name: string;
  readonly netns: string;
  /** Underlay address without prefix. */
  readonly underlayIP: string;
  /** Underlay interface inside the node netns, and its peer on the switch. */
  readonly uplink: string;
  readonly switchPort: string;
  readonly podCIDR: string;
}

export interface LabPlan {
  readonly prefix: string;
  readonly switchNetns: string;
  readonly underlayPrefix: number;
  readonly nodes: readonly NodePlan[];
}

/** Every netns of a lab starts with this, so two labs (different dirs) never collide. */
export function labPrefix(absDir: string): string {
  return `pl${fnv1a32(absDir).slice(0, 5)}`;
}

export function planLab(absDir: string, nodeCount: number): LabPlan {
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES) {
    throw new RangeError(`--nodes: ${nodeCount} must be an integer from 1 to ${MAX_NODES}`);
  }
  const prefix = labPrefix(absDir);
  const underlay: Cidr = subnetAt(UNDERLAY, 24, 0); // 198.18.0.0/24 holds up to 253 nodes
  const nodes = Array.from({ length: nodeCount }, (_, i): NodePlan => {
    const n = i + 1;
    return {
      name: `node-${n}`,
      netns: `${prefix}-n${n}`,
      underlayIP: formatIp(addressAt(underlay, BigInt(10 + n))),
      uplink: 'eth0',
      switchPort: `n${n}`,
      // The order Kubernetes' node IPAM allocates in (node-1 registers first): the same in both kinds of lab.
      podCIDR: formatCidr(subnetAt(CLUSTER_POD_CIDR, NODE_POD_PREFIX, i)),
    };
  });
  return { prefix, switchNetns: `${prefix}-sw`, underlayPrefix: underlay.prefix, nodes };
}

/** The underlay's MTU (the veths' default): what the tunnel's overhead is taken from. */
export const UNDERLAY_MTU = 1500;

/**
 * The node's WireGuard interface: named after its netns (wireguard-go's socket directory is shared by every
 * netns on the machine, so the name must be unique there), "<prefix>-w<n>", at most 13 characters.
 */
export function tunnelIfaceOf(node: NodePlan): string {
  return node.netns.replace(/-n(\d+)$/, '-w$1');
}

/** The pod's netns name: the lab prefix and a hash of namespace/name (netns names must be short and safe). */
export function podNetnsName(prefix: string, namespace: string, name: string): string {
  return `${prefix}-p${fnv1a32(`${namespace}/${name}`)}`;
}

/** A machine on the underlay: a node, or a host that is not one (the control plane, the outside client). */
export interface UnderlayPort {
  readonly netns: string;
  readonly uplink: string;
  readonly switchPort: string;
}

/**
 * ip -batch script that builds the switch: a bridge with one port per node and per extra host. Runs in the
 * switch netns.
 */
export function switchScript(plan: LabPlan, hosts: readonly UnderlayPort[] = []): string {
  const lines = ['link set lo up', 'link add br0 type bridge', 'link set br0 up'];
  for (const n of [...plan.nodes, ...hosts]) {
    lines.push(
      `link add ${n.switchPort} type veth peer name ${n.uplink} netns ${n.netns}`,
      `link set ${n.switchPort} master br0`,
      `link set ${n.switchPort} up`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** ip -batch script for a host on the underlay: its address, nothing routed beyond the underlay. */
export function hostScript(plan: LabPlan, host: UnderlayPort & { readonly ip: string }): string {
  return `${['link set lo up', `addr add ${host.ip}/${plan.underlayPrefix} dev ${host.uplink}`, `link set ${host.uplink} up`].join('\n')}\n`;
}

/** ip -batch script for one node: underlay address, routes to every other node's pod CIDR, blackhole its own. */
export function nodeScript(plan: LabPlan, node: NodePlan): string {
  return hostScript(plan, { ...node, ip: node.underlayIP }) + nodeRoutesScript(plan, node);
}

/** The node's pod routes: every other node's pod CIDR via its underlay address; its own CIDR blackholed. */
export function nodeRoutesScript(plan: LabPlan, node: NodePlan): string {
  const lines = [
    // Addresses of this node's CIDR that no pod holds go nowhere, rather than back out of the uplink.
    `route add blackhole ${node.podCIDR}`,
  ];
  for (const other of plan.nodes) {
    if (other.name !== node.name)
      lines.push(`route add ${other.podCIDR} via ${other.underlayIP} dev ${node.uplink}`);
  }
  return `${lines.join('\n')}\n`;
}
