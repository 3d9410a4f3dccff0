// Named policy sets over the demo cluster, shared by the golden and semantic tests.
import type { ClusterNetworkPolicy } from '../../model/cluster-network-policy.js';
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
