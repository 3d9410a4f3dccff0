// `lab up`'s steps for the outside host and the hosts' probe servers, the same on both kinds of lab: the outside
// host's extra addresses and the routes between its networks and the cluster, and a probe server on every node
// and on the outside host. Only inside the lab's namespaces.
import { type HostToServe, startHostServers, waitForHostServers } from './host-servers.js';
import type { HostPlan } from './kube/plan.js';
import type { LabDeps } from './lab-common.js';
import {
  nodeOutsideRoutesScript,
  OUTSIDE_PORTS,
  type OutsideAddress,
  outsideAddressScript,
  outsideIps,
  outsidePodRoutesScript,
} from './outside.js';
import type { LabPlan } from './plan.js';
import { SYSCTL_NO_ICMP_RATELIMIT } from './pods.js';
import { type LabState, type OutsideState, saveState } from './state.js';

function outsideOf(host: HostPlan, addresses: readonly OutsideAddress[]): OutsideState {
  return { netns: host.netns, ip: host.ip, uplink: host.uplink, addresses };
}

async function batch(deps: LabDeps, netns: string, script: string): Promise<void> {
  if (script.trim() === '') return;
  await deps.runner.run(['ip', '-batch', '-'], { netns: `/run/netns/${netns}`, input: script });
}

/**
 * After the underlay is wired: the outside host's extra addresses, each node's routes to the networks behind it,
 * and no ICMP rate limit where probes are answered (see SYSCTL_NO_ICMP_RATELIMIT).
 */
export async function wireOutside(
  deps: LabDeps,
  plan: LabPlan,
  host: HostPlan,
  addresses: readonly OutsideAddress[],
): Promise<OutsideState> {
  const outside = outsideOf(host, addresses);
  await batch(deps, outside.netns, outsideAddressScript(plan, outside.uplink, addresses));
  for (const ns of [outside.netns, ...plan.nodes.map((n) => n.netns)]) {
    await deps.runner.run([...SYSCTL_NO_ICMP_RATELIMIT], { netns: `/run/netns/${ns}` });
  }
  for (const node of plan.nodes) await batch(deps, node.netns, nodeOutsideRoutesScript(node, addresses));
  return outside;
}

/** The outside host's routes to each node's pod CIDR (once the plan has them: node IPAM decides on Kubernetes). */
export async function routeOutsideToPods(deps: LabDeps, plan: LabPlan, outside: OutsideState): Promise<void> {
  await batch(deps, outside.netns, outsidePodRoutesScript(plan, outside.uplink));
}

/** Starts the nodes' and the outside host's probe servers, saves them in the state, then waits for them. */
export async function startProbeServers(deps: LabDeps, state: LabState): Promise<LabState> {
  const hosts: HostToServe[] = state.plan.nodes.map((n) => ({ name: n.name, netns: n.netns, ports: [] }));
  const outside = state.outside;
  if (outside) {
    const addresses = outsideIps(outside.addresses);
    hosts.push({ name: 'outside', netns: outside.netns, ports: OUTSIDE_PORTS, addresses });
  }
  const hostServers = startHostServers(deps, state.dir, hosts);
  const next: LabState = { ...state, hostServers };
  saveState(next);
  await waitForHostServers(hostServers);
  return next;
}
