// The GlobalNetworkPolicies and host endpoint of bench/per-packet.ts --gnps M. Pure.
//
// Beside the N NetworkPolicies of per-packet-cluster.ts: M pod GNPs, every other one selecting the server (the
// rest a local pod each), the first half ordered before NetworkPolicy (order < 1000), the rest after; each denies
// ingress to the measured ports from what the clients never are (half a peer label, half a documentation
// address), so a first packet to the server walks every one that selects it up to the policy that allows it. The
// last, order 9000, allows the pod client and the outside client. NetworkPolicy's zz-allow-client (order 1000)
// allows the pod client first when N > 0; the outside client (no pod) is allowed only by the GNP at 9000.
// Host: a HostEndpoint for node-000's eth1 (the outside client's link) and the 100 host policies of
// bench/agent-sync-global.ts (40 normal, 30 applyOnForward, 15 preDNAT, 15 doNotTrack), the last applyOnForward
// one also allowing the outside client's net to the measured ports. A packet from the outside client walks the
// doNotTrack policies (raw prerouting, every packet), the preDNAT ones and the applyOnForward ones (first packets)
// before the server's; the pod client's packets pass the host chains on their first rule (a pod interface).
import type { ClusterState } from '../src/model/cluster.js';
import type { GlobalNetworkPolicy } from '../src/model/global-network-policy.js';
import type { HostEndpoint } from '../src/model/host-endpoint.js';
import {
  gnp,
  HOST_POLICIES,
  hostEndpointOf,
  hostPolicies,
  hostPolicyKind,
  hostPolicyName,
} from './agent-sync-global.js';
import { CLIENT_IP, clusterState, LOCAL_NODE, PORTS } from './per-packet-cluster.js';

/** The outside client: a host beyond the node's eth1, in 198.18.0.0/24 with the node (198.18.0.1). */
export const OUTSIDE_IP = '198.18.0.100';
export const HEP_INTERFACE = 'eth1';
const LOCAL_OTHERS = 18;
const PEER_LABELS = 200;

export function podGlobalPolicies(m: number): GlobalNetworkPolicy[] {
  const others = ['client', ...Array.from({ length: LOCAL_OTHERS }, (_, k) => `local-${k}`)];
  const ports = [...PORTS];
  const out = Array.from({ length: m }, (_, i) => {
    const target = i % 2 === 0 ? 'server' : others[i % others.length]!;
    const source =
      i % 4 < 2 ? { selector: `app == "peer-${i % PEER_LABELS}"` } : { nets: [`203.0.113.${i % 256}/32`] };
    return gnp(`gnp-${String(i).padStart(5, '0')}`, {
      order: i < m / 2 ? 1 + (i % 900) : 1001 + (i % 900),
      selector: `app == "${target}"`,
      ingress: [{ action: 'Deny', protocol: 'TCP', source, destination: { ports } }],
    });
  });
  out.push(
    gnp('zz-allow-clients', {
      order: 9000,
      selector: 'app == "server"',
      ingress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          source: { nets: [`${CLIENT_IP}/32`, `${OUTSIDE_IP}/32`] },
          destination: { ports },
        },
      ],
    }),
  );
  return out;
}

/** The host policies, the last applyOnForward one also allowing the outside client's net to the ports. */
export function perPacketHostPolicies(): GlobalNetworkPolicy[] {
  const all = hostPolicies();
  let last = -1;
  for (let i = 0; i < HOST_POLICIES; i++) if (hostPolicyKind(i) === 'forward' && i % 5 !== 4) last = i; // i % 5 === 4 selects by zone
  const name = hostPolicyName(last);
  const allow = gnp(name, {
    order: 10 + last * 10,
    selector: 'has(host-endpoint)',
    applyOnForward: true,
    ingress: [
      {
        action: 'Deny',
        protocol: 'TCP',
        source: { nets: [`192.0.2.${last}/32`] },
        destination: { ports: [20000] },
      },
      {
        action: 'Allow',
        protocol: 'TCP',
        source: { nets: ['198.18.0.0/24'] },
        destination: { ports: [...PORTS] },
      },
    ],
  });
  return all.map((p) => (p.name === name ? allow : p));
}

export function nodeHostEndpoint(): HostEndpoint {
  return hostEndpointOf({ name: LOCAL_NODE, ips: ['198.18.0.1'] }, 0, HEP_INTERFACE);
}

/** per-packet-cluster.ts's state with M pod GNPs, the host policies and node-000's host endpoint. */
export function globalState(n: number, serverShare: number, m: number): ClusterState {
  return {
    ...clusterState(n, serverShare),
    globalPolicies: [...podGlobalPolicies(m), ...perPacketHostPolicies()],
    hostEndpoints: [nodeHostEndpoint()],
  };
}
