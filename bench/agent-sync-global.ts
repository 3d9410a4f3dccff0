// GlobalNetworkPolicies and HostEndpoints for the synthetic cluster of bench/agent-sync.ts (--gnps N, --heps) and
// bench/host-policy-change.ts. Written as manifests (projectcalico.org/v3) and read with the agent's own parsers;
// a manifest that does not parse clean is a bug of the bench, so it throws.
//
// Pod policies (N): the shapes cluster admins write in Calico's default tier: allow a tier from an environment,
// deny known-bad nets, pass a tier on to the namespaces' NetworkPolicy, egress guardrails (metadata address, DNS,
// the internet but not the cluster), and scraping from the nodes (a selector that names host endpoints). Orders:
// 40% below 1000 (before NetworkPolicy), 45% above, 15% unset (last).
// Host (--heps): a HostEndpoint for every node (eth0, its address, labels host-endpoint and zone z0..z3, no
// profile: default deny) and HOST_POLICIES host policies selecting them by has(host-endpoint) or by zone: 40
// normal, 30 applyOnForward, 15 preDNAT, 15 doNotTrack. host-normal-0 lets the node reach the API server and DNS
// (TCP 53 and the API server's port are no failsafe), so the lockout checks pass with the default failsafes.
import type { NodeInfo } from '../src/model/cluster.js';
import type { GlobalNetworkPolicy } from '../src/model/global-network-policy.js';
import { parseGlobalNetworkPolicy } from '../src/model/global-network-policy-parse.js';
import type { HostEndpoint } from '../src/model/host-endpoint.js';
import { parseHostEndpoint } from '../src/model/host-endpoint-parse.js';
import type { Gen } from '../src/policy/testdata/random.js';

/**
 * Where the node reaches the API server: a load balancer on 8443 (minikube's port, and many HA front ends'). On
 * 6443 or 443 the default failsafes would keep it open whatever the host policies say, and no change could cut it.
 */
export const API_SERVER = { ip: '198.18.255.1', port: 8443 } as const;
export const DNS_SERVER = '198.18.255.53';
export const HOST_POLICIES = 100;
const ZONES = 4;

/** The label pools of the cluster the policies select from (bench/agent-sync-cluster.ts). */
export interface LabelPools {
  readonly apps: readonly string[];
  readonly tiers: readonly string[];
  readonly teams: readonly string[];
  readonly envs: readonly string[];
}

type Spec = Record<string, unknown>;

export function gnp(name: string, spec: Spec): GlobalNetworkPolicy {
  const p = parseGlobalNetworkPolicy({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name },
    spec,
  });
  if (p.problems.length > 0) throw new Error(`bench GlobalNetworkPolicy ${name}: ${p.problems.join('; ')}`);
  return p;
}

function podSelector(g: Gen, pools: LabelPools): Spec {
  const r = g.rnd();
  if (r < 0.5) return { selector: `app == "${g.pick(pools.apps)}"` };
  if (r < 0.7) return { selector: `tier == "${g.pick(pools.tiers)}" && version != "v1"` };
  if (r < 0.85) {
    const apps = [...new Set([g.pick(pools.apps), g.pick(pools.apps), g.pick(pools.apps)])];
    return { selector: `app in {${apps.map((a) => `"${a}"`).join(', ')}}` };
  }
  return {
    selector: `tier == "${g.pick(pools.tiers)}"`,
    namespaceSelector: `team == "${g.pick(pools.teams)}"`,
  };
}

function podRules(g: Gen, pools: LabelPools): Spec {
  const r = g.rnd();
  const tcp = (ports: (number | string)[]) => ({ protocol: 'TCP', destination: { ports } });
  if (r < 0.3)
    return {
      ingress: [
        {
          action: 'Allow',
          ...tcp([8080, 'http']),
          source: {
            selector: `tier == "${g.pick(pools.tiers)}"`,
            namespaceSelector: `env == "${g.pick(pools.envs)}"`,
          },
        },
      ],
    };
  if (r < 0.5)
    return {
      ingress: [
        { action: 'Deny', source: { nets: [`192.0.2.${g.int(0, 255)}/32`, '198.51.100.0/24'] } },
        {
          action: 'Allow',
          ...tcp([443]),
          source: { nets: ['10.16.0.0/12'], notNets: [`10.16.${g.int(0, 40)}.0/24`] },
        },
      ],
    };
  if (r < 0.65)
    return {
      ingress: [
        { action: 'Pass', ...tcp([8080]), source: { selector: `tier == "${g.pick(pools.tiers)}"` } },
        { action: 'Deny', ...tcp([22, 3306]) },
      ],
    };
  if (r < 0.85)
    return {
      egress: [
        { action: 'Deny', destination: { nets: ['169.254.169.254/32'] } },
        {
          action: 'Allow',
          protocol: 'UDP',
          destination: {
            selector: 'app == "app-0"',
            namespaceSelector: 'projectcalico.org/name == "ns-00"',
            ports: [53],
          },
        },
        {
          action: 'Allow',
          protocol: 'TCP',
          destination: { nets: ['0.0.0.0/0'], notNets: ['10.0.0.0/8', '192.168.0.0/16'], ports: [443] },
        },
      ],
    };
  return {
    ingress: [{ action: 'Allow', ...tcp(['metrics', 9090]), source: { selector: 'has(host-endpoint)' } }],
  };
}

/** A pod policy of a random shape (see the header); `name` keeps an existing policy's name for a change. */
export function makePodGlobalPolicy(g: Gen, pools: LabelPools, name: string): GlobalNetworkPolicy {
  const r = g.rnd();
  const order = r < 0.4 ? g.int(100, 999) : r < 0.85 ? g.int(1001, 2000) : undefined;
  return gnp(name, {
    ...(order === undefined ? {} : { order }),
    ...podSelector(g, pools),
    ...podRules(g, pools),
  });
}

export type HostPolicyKind = 'normal' | 'forward' | 'preDNAT' | 'doNotTrack';

export function hostPolicyKind(i: number): HostPolicyKind {
  const k = i % 20;
  return k < 8 ? 'normal' : k < 14 ? 'forward' : k < 17 ? 'preDNAT' : 'doNotTrack';
}

export function hostPolicyName(i: number): string {
  return `host-${hostPolicyKind(i)}-${i}`.toLowerCase();
}

/** What lets the node reach the API server and DNS (TCP and UDP), and be reached on ssh and the kubelet. */
function baseHostRules(): Spec {
  const to = (protocol: string, ip: string, port: number) => ({
    action: 'Allow',
    protocol,
    destination: { nets: [`${ip}/32`], ports: [port] },
  });
  return {
    types: ['Ingress', 'Egress'],
    ingress: [
      {
        action: 'Allow',
        protocol: 'TCP',
        source: { nets: ['198.18.0.0/16'] },
        destination: { ports: [22, 10250] },
      },
    ],
    egress: [to('TCP', API_SERVER.ip, API_SERVER.port), to('TCP', DNS_SERVER, 53), to('UDP', DNS_SERVER, 53)],
  };
}

/**
 * Host policy i (see the header). `version` changes one port of it: a host policy change as kubectl apply makes
 * it, which cuts nothing.
 */
export function makeHostPolicy(i: number, version = 0): GlobalNetworkPolicy {
  const selector = i % 5 === 4 ? `zone == "z${i % ZONES}"` : 'has(host-endpoint)';
  const base = { order: 10 + i * 10, selector };
  const extra = 20000 + (version % 1000);
  const octet = i % 256;
  switch (hostPolicyKind(i)) {
    case 'normal':
      if (i === 0) return gnp(hostPolicyName(i), { ...base, ...baseHostRules() });
      return gnp(hostPolicyName(i), {
        ...base,
        types: ['Ingress', 'Egress'],
        ingress: [
          {
            action: 'Allow',
            protocol: 'TCP',
            source: { nets: ['10.16.0.0/12'] },
            destination: { ports: [9100 + i, extra] },
          },
        ],
        egress: [
          {
            action: 'Allow',
            protocol: 'TCP',
            destination: { nets: [`203.0.113.${octet}/32`], ports: [443, 5000 + i] },
          },
        ],
      });
    case 'forward':
      return gnp(hostPolicyName(i), {
        ...base,
        applyOnForward: true,
        ingress: [
          {
            action: 'Deny',
            protocol: 'TCP',
            source: { nets: [`192.0.2.${octet}/32`] },
            destination: { ports: [extra] },
          },
          {
            action: 'Allow',
            protocol: 'TCP',
            source: { nets: ['198.18.0.0/16'] },
            destination: { ports: ['30000:32767'] },
          },
        ],
      });
    case 'preDNAT':
      return gnp(hostPolicyName(i), {
        ...base,
        preDNAT: true,
        applyOnForward: true,
        ingress: [
          {
            action: 'Deny',
            protocol: 'TCP',
            source: { nets: [`198.51.100.${octet}/32`] },
            destination: { ports: ['30000:32767', extra] },
          },
        ],
      });
    case 'doNotTrack':
      return gnp(hostPolicyName(i), {
        ...base,
        doNotTrack: true,
        applyOnForward: true,
        types: ['Ingress', 'Egress'],
        ingress: [
          {
            action: 'Allow',
            protocol: 'TCP',
            source: { nets: [`198.51.100.${octet}/32`] },
            destination: { ports: [9100, extra] },
          },
        ],
        egress: [
          {
            action: 'Allow',
            protocol: 'TCP',
            source: { ports: [9100] },
            destination: { nets: [`198.51.100.${octet}/32`] },
          },
        ],
      });
  }
}

export function hostPolicies(count = HOST_POLICIES): GlobalNetworkPolicy[] {
  return Array.from({ length: count }, (_, i) => makeHostPolicy(i));
}

/**
 * The change that would cut the node off: host policy 1 rewritten, with the lowest order, to deny the node's
 * egress to the API server. `round` varies its second port, so each round is a new version of it (a refused
 * object is held until it changes).
 */
export function cutApiServer(round: number): GlobalNetworkPolicy {
  return gnp(hostPolicyName(1), {
    order: 1,
    selector: 'has(host-endpoint)',
    types: ['Egress'],
    egress: [
      {
        action: 'Deny',
        protocol: 'TCP',
        destination: { nets: [`${API_SERVER.ip}/32`], ports: [API_SERVER.port, 20000 + (round % 1000)] },
      },
    ],
  });
}

/** The HostEndpoint of a node: its eth0 and first address, no profile (so: default deny). */
export function hostEndpointOf(node: NodeInfo, index: number, interfaceName = 'eth0'): HostEndpoint {
  const h = parseHostEndpoint({
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: {
      name: `${node.name}-${interfaceName}`,
      labels: { 'host-endpoint': 'true', zone: `z${index % ZONES}` },
    },
    spec: { node: node.name, interfaceName, expectedIPs: node.ips.slice(0, 1) },
  });
  if (h.problems.length > 0) throw new Error(`bench HostEndpoint ${h.name}: ${h.problems.join('; ')}`);
  return h;
}
