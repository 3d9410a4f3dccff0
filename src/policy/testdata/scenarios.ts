// Named policy sets over the demo cluster, shared by the golden and semantic tests.

import type { ClusterNetworkPolicy } from '../../model/cluster-network-policy.js';
import type { GlobalNetworkPolicy } from '../../model/global-network-policy.js';
import { parseGlobalNetworkPolicy } from '../../model/global-network-policy-parse.js';
import type { HostEndpoint } from '../../model/host-endpoint.js';
import { parseHostEndpoint } from '../../model/host-endpoint-parse.js';
import type { NetworkPolicy } from '../../model/network-policy.js';
import { makePolicy, rule, sel, tcp, udp } from './builders.js';

export const SCENARIOS: Record<string, NetworkPolicy[]> = {
  // Several ports and ranges: shared named port sets (two policies with the same list share one set).
  'port-sets': [
    makePolicy('shop', 'web-ports', {
      podSelector: sel({ app: 'web' }),
      ingress: [
        rule(
          [{ namespaceSelector: sel({ team: 'billing' }) }],
          [tcp(80), tcp(443), tcp(8000, 8100), udp(53), udp(5353)],
        ),
      ],
    }),
    makePolicy('shop', 'cart-ports', {
      podSelector: sel({ app: 'cart' }),
      ingress: [rule([], [tcp(443), tcp(80), tcp(8000, 8100)])],
    }),
  ],
  'no-policies': [],
  'default-deny-shop': [makePolicy('shop', 'default-deny')],
  mixed: [
    makePolicy('shop', 'default-deny'),
    makePolicy('shop', 'allow-web-from-billing', {
      podSelector: sel({ app: 'web' }),
      ingress: [rule([{ namespaceSelector: sel({ team: 'billing' }) }], [tcp(80)])],
    }),
    makePolicy('shop', 'db-from-shop', {
      podSelector: sel({ app: 'db' }),
      ingress: [rule([{ podSelector: sel() }], [tcp('pg')])],
    }),
    makePolicy('billing', 'egress', {
      policyTypes: ['Egress'],
      egress: [
        rule([{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.244.0.0/16'] } }], [udp(53)]),
        rule([{ namespaceSelector: sel({ team: 'shop' }) }], [tcp('http'), tcp(5000, 5010)]),
      ],
    }),
    makePolicy('shop', 'broken', {
      podSelector: sel({ app: 'cart' }),
      problems: [
        'spec.ingress[0].from[0].ipBlock.cidr: "10.0.0.0/33" has an invalid prefix length (must be 0-32)',
      ],
    }),
  ],
};

/**
 * ClusterNetworkPolicies over the demo cluster, beside NetworkPolicies: both tiers, equal and distinct
 * priorities, Accept, Deny and Pass, pods, namespaces and networks peers, ports, a range and a named port.
 */
export const CLUSTER_SCENARIOS: Record<
  string,
  { cluster: ClusterNetworkPolicy[]; policies: NetworkPolicy[] }
> = {
  tiers: {
    cluster: [
      {
        kind: 'ClusterNetworkPolicy',
        name: 'guard-shop',
        tier: 'Admin',
        priority: 10,
        subject: { kind: 'namespaces', namespaceSelector: sel({ team: 'shop' }) },
        ingress: [
          {
            name: 'billing-web',
            action: 'Pass',
            peers: [
              { kind: 'pods', namespaceSelector: sel({ team: 'billing' }), podSelector: sel({ app: 'api' }) },
            ],
            protocols: [{ kind: 'port', protocol: 'TCP', port: 80 }],
          },
          {
            action: 'Deny',
            peers: [{ kind: 'namespaces', namespaceSelector: sel({ team: 'billing' }) }],
            protocols: [],
          },
        ],
        egress: [
          {
            action: 'Deny',
            peers: [{ kind: 'networks', networks: ['192.0.2.0/24', '2001:db8::/32'] }],
            protocols: [{ kind: 'portRange', protocol: 'TCP', start: 1, end: 1023 }],
          },
        ],
        problems: [],
        notProgrammed: [],
      },
      {
        kind: 'ClusterNetworkPolicy',
        name: 'allow-metrics',
        tier: 'Admin',
        priority: 10,
        subject: { kind: 'pods', namespaceSelector: sel(), podSelector: sel({ app: 'db' }) },
        ingress: [
          {
            action: 'Accept',
            peers: [{ kind: 'namespaces', namespaceSelector: sel() }],
            protocols: [{ kind: 'namedPort', name: 'pg' }],
          },
        ],
        egress: [],
        problems: [],
        notProgrammed: [],
      },
      {
        kind: 'ClusterNetworkPolicy',
        name: 'default-deny-billing',
        tier: 'Baseline',
        priority: 0,
        subject: { kind: 'namespaces', namespaceSelector: sel({ team: 'billing' }) },
        ingress: [
          {
            action: 'Deny',
            peers: [{ kind: 'namespaces', namespaceSelector: sel() }],
            protocols: [],
          },
        ],
        egress: [],
        problems: [],
        notProgrammed: [],
      },
    ],
    policies: [
      makePolicy('shop', 'allow-web-from-billing', {
        podSelector: sel({ app: 'web' }),
        ingress: [rule([{ namespaceSelector: sel({ team: 'billing' }) }], [tcp(80)])],
      }),
    ],
  },
};

function calico(name: string, spec: Record<string, unknown>): GlobalNetworkPolicy {
  return parseGlobalNetworkPolicy({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name },
    spec,
  });
}

/**
 * GlobalNetworkPolicies over the demo cluster, beside a NetworkPolicy: orders on both sides of 1000, Allow, Deny,
 * Pass and Log, every rule field that becomes a match (nets, notNets, selector, notSelector, namespaceSelector,
 * ports, a range, named ports with and without a protocol, notPorts, source ports, protocol by name and number,
 * notProtocol, ICMP and notICMP, ipVersion), and a host endpoint named by a selector.
 */
export const GLOBAL_SCENARIOS: Record<
  string,
  { global: GlobalNetworkPolicy[]; policies: NetworkPolicy[]; hostEndpoints: HostEndpoint[] }
> = {
  global: {
    global: [
      calico('guard-web', {
        order: 10,
        selector: "projectcalico.org/namespace == 'shop' && app == 'web'",
        ingress: [
          { action: 'Log', protocol: 'TCP', destination: { ports: [22] } },
          { action: 'Deny', source: { nets: ['192.0.2.0/24'], notNets: ['192.0.2.128/25'] } },
          { action: 'Pass', source: { namespaceSelector: "team == 'billing'", selector: "app == 'api'" } },
          { action: 'Allow', protocol: 'ICMP', icmp: { type: 8, code: 0 } },
          { action: 'Deny', protocol: 'ICMP', notICMP: { type: 0 } },
        ],
      }),
      calico('hosts-to-db', {
        order: 500,
        selector: "app == 'db'",
        types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Allow', source: { selector: 'has(host-endpoint)' }, destination: { ports: ['pg'] } },
          {
            action: 'Allow',
            protocol: 'TCP',
            source: { notSelector: "app in {'api', 'ledger'}", ports: ['1024:65535'] },
            destination: { notPorts: [22, '6000:6100'] },
          },
        ],
        egress: [
          { action: 'Deny', protocol: 17, destination: { ports: [53] }, ipVersion: 4 },
          { action: 'Allow', notProtocol: 'UDPLite' },
        ],
      }),
      calico('last', {
        selector: 'all()',
        ingress: [{ action: 'Allow', protocol: 'SCTP', destination: { ports: ['7000:7010'] } }],
      }),
    ],
    policies: [
      makePolicy('shop', 'allow-web-from-billing', {
        podSelector: sel({ app: 'web' }),
        ingress: [rule([{ namespaceSelector: sel({ team: 'billing' }) }], [tcp(80)])],
      }),
    ],
    hostEndpoints: [
      parseHostEndpoint({
        apiVersion: 'crd.projectcalico.org/v1',
        kind: 'HostEndpoint',
        metadata: { name: 'node-1', labels: { 'host-endpoint': 'ingress' } },
        spec: { node: 'node-1', interfaceName: '*', expectedIPs: ['198.18.0.11'] },
      }),
    ],
  },
  /**
   * Host endpoints: seed 003's three policies (egress allowed, ingress from given CIDRs before the DNAT, the rest
   * denied), an untracked pair, a forward policy, a named interface beside "*", one without interfaceName.
   */
  host: {
    global: [
      calico('allow-outbound-external', {
        order: 10,
        egress: [{ action: 'Allow' }],
        selector: 'has(host-endpoint)',
      }),
      calico('allow-cluster-internal-ingress', {
        order: 10,
        preDNAT: true,
        applyOnForward: true,
        ingress: [{ action: 'Allow', source: { nets: ['10.240.0.0/16', '192.168.0.0/16'] } }],
        selector: 'has(host-endpoint)',
      }),
      calico('drop-other-ingress', {
        order: 20,
        preDNAT: true,
        applyOnForward: true,
        ingress: [{ action: 'Deny' }],
        selector: 'has(host-endpoint)',
      }),
      calico('vxlan-untracked', {
        order: 5,
        doNotTrack: true,
        applyOnForward: true,
        selector: 'has(host-endpoint)',
        ingress: [{ action: 'Allow', protocol: 'UDP', destination: { ports: [4789] } }],
        egress: [{ action: 'Allow', protocol: 'UDP', destination: { ports: [4789] } }],
      }),
      calico('no-9999-forwarded', {
        order: 30,
        applyOnForward: true,
        selector: "iface == 'eth1'",
        ingress: [
          { action: 'Pass', source: { nets: ['198.18.0.0/15'] } },
          { action: 'Deny', protocol: 'TCP', destination: { ports: [9999] } },
        ],
      }),
    ],
    policies: [],
    hostEndpoints: [
      parseHostEndpoint({
        apiVersion: 'projectcalico.org/v3',
        kind: 'HostEndpoint',
        metadata: { name: 'node-1', labels: { 'host-endpoint': 'ingress' } },
        spec: {
          node: 'node-1',
          interfaceName: '*',
          expectedIPs: ['198.18.0.11'],
          profiles: ['projectcalico-default-allow'],
        },
      }),
      parseHostEndpoint({
        apiVersion: 'palisade.dev/v1',
        kind: 'HostEndpoint',
        metadata: { name: 'node-1-eth1', labels: { iface: 'eth1' } },
        spec: { node: 'node-1', interfaceName: 'eth1', expectedIPs: ['192.0.2.11'] },
      }),
      parseHostEndpoint({
        apiVersion: 'palisade.dev/v1',
        kind: 'HostEndpoint',
        metadata: { name: 'node-1-by-ip' },
        spec: { node: 'node-1', expectedIPs: ['198.51.100.11'] },
      }),
    ],
  },
};
