// The policies of bench/per-packet.ts, and the same policies as one linear iptables chain. Pure.
//
// Cluster: namespace "bench"; on node-000 (this node) the client pod (app=client), the server pod (app=server)
// and 18 other local pods (app=local-K, interfaces that do not exist: only names in the endpoint map); on
// node-001, 400 remote pods labelled app=peer-0..peer-199 (two pods per label).
//
// With N > 0 policies: N-1 "background" policies, each an ingress rule `from podSelector app=peer-X` (two
// pods) to TCP 5201 and 7000 (iperf3 and the RR/CRR tool); a share of them (--server-share, default 1/2)
// select the server, the rest select the client or the other local pods. The last one by name,
// "zz-allow-client", selects the server and allows the client to those ports. So the server is isolated by
// ~N/2 policies and only the last one allows the measured traffic: a linear engine walks every rule before it.

import { hostVethName } from '../src/dataplane/veth-name.js';
import type { ClusterState, PodInfo } from '../src/model/cluster.js';
import type { ClusterNetworkPolicy } from '../src/model/cluster-network-policy.js';
import type { NetworkPolicy } from '../src/model/network-policy.js';
import { selectorMatches } from '../src/model/selector.js';

export const LOCAL_NODE = 'node-000';
export const NAMESPACE = 'bench';
export const CLIENT_IP = '10.244.0.2';
export const SERVER_IP = '10.244.0.3';
export const PORTS = [5201, 7000] as const;
const LOCAL_OTHERS = 18;
const PEER_LABELS = 200;
const REMOTE_PODS = 400;

function pod(name: string, ip: string, node: string, app: string, local: boolean): PodInfo {
  return {
    namespace: NAMESPACE,
    name,
    node,
    ips: [ip],
    labels: { app },
    ports: [],
    ...(local ? { interface: hostVethName(`pp-${name}`, 'eth0') } : {}),
  };
}

export function pods(): PodInfo[] {
  const out = [
    pod('client', CLIENT_IP, LOCAL_NODE, 'client', true),
    pod('server', SERVER_IP, LOCAL_NODE, 'server', true),
  ];
  for (let k = 0; k < LOCAL_OTHERS; k++)
    out.push(pod(`local-${k}`, `10.244.0.${10 + k}`, LOCAL_NODE, `local-${k}`, true));
  for (let j = 0; j < REMOTE_PODS; j++)
    out.push(
      pod(
        `remote-${j}`,
        `10.244.${1 + Math.floor(j / 250)}.${1 + (j % 250)}`,
        'node-001',
        `peer-${j % PEER_LABELS}`,
        false,
      ),
    );
  return out;
}

function ingressPolicy(name: string, selectApp: string, fromApp: string): NetworkPolicy {
  return {
    kind: 'NetworkPolicy',
    namespace: NAMESPACE,
    name,
    podSelector: { matchLabels: { app: selectApp }, matchExpressions: [] },
    policyTypes: ['Ingress'],
    ingress: [
      {
        peers: [{ podSelector: { matchLabels: { app: fromApp }, matchExpressions: [] } }],
        ports: PORTS.map((port) => ({ protocol: 'TCP' as const, port })),
      },
    ],
    egress: [],
    problems: [],
  };
}

export function policies(n: number, serverShare: number): NetworkPolicy[] {
  if (n === 0) return [];
  const out: NetworkPolicy[] = [];
  const background = n - 1;
  const toServer = Math.round(background * serverShare);
  const others = ['client', ...Array.from({ length: LOCAL_OTHERS }, (_, k) => `local-${k}`)];
  for (let i = 0; i < background; i++) {
    const target = i < toServer ? 'server' : others[i % others.length]!;
    out.push(ingressPolicy(`np-${String(i).padStart(5, '0')}`, target, `peer-${i % PEER_LABELS}`));
  }
  out.push(ingressPolicy('zz-allow-client', 'server', 'client'));
  return out;
}

/**
 * M ClusterNetworkPolicies beside the NetworkPolicies: the first half Admin, the rest Baseline; every other one
 * selects the server, the others a local pod each. Each denies ingress from one peer label to the measured ports,
 * which the client never matches, so the client's first packet walks every Admin policy selecting the server
 * (a jump, a lookup, the pass check). With `pass`, the first Admin policy (priority 0) passes the client on to
 * NetworkPolicy instead, and the other Admin policies are skipped: the cost of a Pass.
 */
export function clusterPolicies(m: number, pass: boolean): ClusterNetworkPolicy[] {
  const others = ['client', ...Array.from({ length: LOCAL_OTHERS }, (_, k) => `local-${k}`)];
  const ns = { matchLabels: { 'kubernetes.io/metadata.name': NAMESPACE }, matchExpressions: [] };
  const app = (a: string) => ({ matchLabels: { app: a }, matchExpressions: [] });
  const protocols = PORTS.map((port) => ({ kind: 'port' as const, protocol: 'TCP' as const, port }));
  return Array.from({ length: m }, (_, i): ClusterNetworkPolicy => {
    const admin = i < m / 2;
    const first = i === 0 && pass;
    return {
      kind: 'ClusterNetworkPolicy',
      name: `cnp-${String(i).padStart(5, '0')}`,
      tier: admin ? 'Admin' : 'Baseline',
      priority: first ? 0 : 1 + (i % 900),
      subject: {
        kind: 'pods',
        namespaceSelector: ns,
        podSelector: app(i % 2 === 0 ? 'server' : others[i % others.length]!),
      },
      ingress: [
        first
          ? {
              action: 'Pass',
              peers: [{ kind: 'pods', namespaceSelector: ns, podSelector: app('client') }],
              protocols,
            }
          : {
              action: 'Deny',
              peers: [{ kind: 'pods', namespaceSelector: ns, podSelector: app(`peer-${i % PEER_LABELS}`) }],
              protocols,
            },
      ],
      egress: [],
      problems: [],
      notProgrammed: [],
    };
  });
}

export function clusterState(
  n: number,
  serverShare: number,
  cnp: { readonly count: number; readonly pass: boolean } = { count: 0, pass: false },
): ClusterState {
  return {
    clusterPolicies: clusterPolicies(cnp.count, cnp.pass),
    namespaces: [{ name: NAMESPACE, labels: { 'kubernetes.io/metadata.name': NAMESPACE } }],
    nodes: [
      { name: LOCAL_NODE, ips: ['198.18.0.1'] },
      { name: 'node-001', ips: ['198.18.0.2'] },
    ],
    pods: pods(),
    policies: policies(n, serverShare),
  };
}

/**
 * The same ingress semantics as an iptables-restore file for the filter table: one FORWARD chain, walked in
 * order, the way an iptables engine without ipsets renders policy: `ESTABLISHED,RELATED` accept first (as real
 * engines do), then one rule per (policy rule x selected local pod x peer address), policies in name order, then
 * a DROP per isolated local pod; everything else falls to the chain's ACCEPT policy.
 */
export function renderIptables(state: ClusterState): { text: string; rules: number } {
  const local = state.pods.filter((p) => p.node === LOCAL_NODE);
  const sorted = [...state.policies].sort((a, b) => a.name.localeCompare(b.name));
  const lines = [
    '*filter',
    ':FORWARD ACCEPT [0:0]',
    '-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
  ];
  const isolated = new Set<PodInfo>();
  let rules = 0;
  for (const p of sorted) {
    const selected = local.filter(
      (x) => x.namespace === p.namespace && selectorMatches(p.podSelector, x.labels),
    );
    for (const x of selected) isolated.add(x);
    for (const rule of p.ingress) {
      const peers = state.pods.filter(
        (x) =>
          x.namespace === p.namespace &&
          rule.peers.some((peer) => peer.podSelector && selectorMatches(peer.podSelector, x.labels)),
      );
      const ports = rule.ports.map((r) => r.port).join(',');
      for (const dst of selected)
        for (const src of peers) {
          lines.push(
            `-A FORWARD -s ${src.ips[0]}/32 -d ${dst.ips[0]}/32 -p tcp -m multiport --dports ${ports} -j ACCEPT`,
          );
          rules++;
        }
    }
  }
  for (const x of isolated) {
    lines.push(`-A FORWARD -d ${x.ips[0]}/32 -j DROP`);
    rules++;
  }
  lines.push('COMMIT', '');
  return { text: lines.join('\n'), rules };
}
