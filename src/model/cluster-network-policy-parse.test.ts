// Valid ClusterNetworkPolicies: every field parsed into the model, the API's defaults and canonical forms, and
// which documents the parser owns.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { ClusterNetworkPolicy } from './cluster-network-policy.js';
import { isClusterNetworkPolicyDoc, parseClusterNetworkPolicy } from './cluster-network-policy-parse.js';
import {
  cnpDoc,
  cnpSpec,
  domains,
  makeCnp,
  namedPort,
  namespaces,
  networks,
  nodes,
  pods,
  port,
  portRange,
  rule,
  sel,
} from './cluster-network-policy-parse.testkit.js';

describe('parseClusterNetworkPolicy: valid manifests', () => {
  const cases: { name: string; yaml: string; want: ClusterNetworkPolicy }[] = [
    {
      name: 'Admin: pods subject, every ingress peer and protocol kind, every action, rule names',
      yaml: `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: { name: protect-payments, labels: { owner: secops } }
spec:
  tier: Admin
  priority: 5
  subject:
    pods:
      namespaceSelector:
        matchExpressions: [{ key: env, operator: In, values: [prod, staging] }]
      podSelector: { matchLabels: { app: payments } }
  ingress:
    - name: monitoring-scrapes
      action: Accept
      from: [{ namespaces: { matchLabels: { kubernetes.io/metadata.name: monitoring } } }]
      protocols:
        - tcp: { destinationPort: { number: 9090 } }
        - destinationNamedPort: metrics
    - name: ops-decides
      action: Pass
      from: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { role: ops } } } }]
      protocols:
        - udp: { destinationPort: { range: { start: 30000, end: 32767 } } }
        - sctp: { destinationPort: { number: 9 } }
    - action: Deny
      from: [{ namespaces: {} }]
`,
      want: makeCnp('protect-payments', {
        priority: 5,
        subject: {
          kind: 'pods',
          namespaceSelector: {
            matchLabels: {},
            matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }],
          },
          podSelector: sel({ app: 'payments' }),
        },
        ingress: [
          rule(
            'Accept',
            [namespaces({ 'kubernetes.io/metadata.name': 'monitoring' })],
            [port('TCP', 9090), namedPort('metrics')],
            'monitoring-scrapes',
          ),
          rule(
            'Pass',
            [pods({}, { role: 'ops' })],
            [portRange('UDP', 30000, 32767), port('SCTP', 9)],
            'ops-decides',
          ),
          rule('Deny', [namespaces()]),
        ],
      }),
    },
    {
      name: 'Baseline: every egress peer kind, CIDRs canonical, domainNames kept but not programmed',
      yaml: `
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: { name: default-egress }
spec:
  tier: Baseline
  priority: 1000
  subject: { namespaces: {} }
  egress:
    - name: dns
      action: Accept
      to: [{ pods: { namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: kube-system } }, podSelector: { matchLabels: { k8s-app: kube-dns } } } }]
      protocols: [{ udp: { destinationPort: { number: 53 } } }, { destinationNamedPort: dns-tcp }]
    - action: Accept
      to:
        - domainNames: ["*.example.com", api.example.org., _dmarc.example.net]
        - nodes: { matchLabels: { node-role.kubernetes.io/control-plane: "" } }
    - action: Deny
      to: [{ networks: [10.1.2.3/8, "2001:DB8:0:0::1/64", "::1.2.3.4/128", 10.0.0.0/8, 0.0.0.0/0] }]
`,
      want: makeCnp('default-egress', {
        tier: 'Baseline',
        priority: 1000,
        subject: namespaces(),
        egress: [
          rule(
            'Accept',
            [pods({ 'kubernetes.io/metadata.name': 'kube-system' }, { 'k8s-app': 'kube-dns' })],
            [port('UDP', 53), namedPort('dns-tcp')],
            'dns',
          ),
          rule('Accept', [
            domains('*.example.com', 'api.example.org.', '_dmarc.example.net'),
            nodes({ 'node-role.kubernetes.io/control-plane': '' }),
          ]),
          rule('Deny', [networks('10.0.0.0/8', '2001:db8::/64', '::102:304/128', '0.0.0.0/0')]),
        ],
        notProgrammed: [
          'spec.egress[1].to[0].domainNames: not programmed (Palisade does not resolve domain names; the peer matches nothing)',
        ],
      }),
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(parseClusterNetworkPolicy(parseYaml(c.yaml)), c.want));
  }
});

describe('parseClusterNetworkPolicy: defaults, limits and shapes', () => {
  const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
  const deny = (i: number) => ({ action: 'Deny', from: [{ namespaces: { matchLabels: { n: String(i) } } }] });
  const cases: { name: string; spec: unknown; want: Partial<ClusterNetworkPolicy> }[] = [
    { name: 'no rules at all', spec: cnpSpec(), want: {} },
    { name: 'priority 0', spec: cnpSpec({ priority: 0 }), want: { priority: 0 } },
    {
      name: 'null lists and selectors are absent; namespaceSelector defaults to every namespace',
      spec: cnpSpec({
        subject: { pods: { podSelector: { matchLabels: { app: 'a' } } }, namespaces: null },
        ingress: [{ action: 'Deny', from: [{ namespaces: {}, pods: null }], protocols: null }],
        egress: null,
      }),
      want: { subject: pods({}, { app: 'a' }), ingress: [rule('Deny', [namespaces()])] },
    },
    {
      name: 'an empty rule name is no name',
      spec: cnpSpec({ ingress: [{ name: '', action: 'Deny', from: [{ namespaces: {} }] }] }),
      want: { ingress: [rule('Deny', [namespaces()])] },
    },
    {
      name: 'at the limits: 25 rules of 25 peers, 25 protocols, 25 networks, a 100-character name',
      spec: cnpSpec({
        ingress: many(25, deny),
        egress: [
          {
            name: 'n'.repeat(100),
            action: 'Deny',
            to: many(25, () => ({ networks: many(25, (i) => `10.${i}.0.0/16`) })),
            protocols: many(25, (i) => ({ tcp: { destinationPort: { number: i + 1 } } })),
          },
        ],
      }),
      want: {
        ingress: many(25, (i) => rule('Deny', [namespaces({ n: String(i) })])),
        egress: [
          rule(
            'Deny',
            many(25, () => networks(...many(25, (i) => `10.${i}.0.0/16`))),
            many(25, (i) => port('TCP', i + 1)),
            'n'.repeat(100),
          ),
        ],
      },
    },
    {
      name: 'networks: the same network written twice differently is kept once',
      spec: cnpSpec({ egress: [{ action: 'Deny', to: [{ networks: ['10.0.0.1/8', '10.0.0.0/8'] }] }] }),
      want: { egress: [rule('Deny', [networks('10.0.0.0/8')])] },
    },
    {
      name: 'port range 1-65535',
      spec: cnpSpec({
        ingress: [
          {
            action: 'Deny',
            from: [{ namespaces: {} }],
            protocols: [{ sctp: { destinationPort: { range: { start: 1, end: 65535 } } } }],
          },
        ],
      }),
      want: { ingress: [rule('Deny', [namespaces()], [portRange('SCTP', 1, 65535)])] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(parseClusterNetworkPolicy(cnpDoc(c.spec)), makeCnp('p', c.want)));
  }
  it('ignores metadata.namespace (cleared on cluster-scoped objects) and accepts a status', () => {
    const doc = { ...cnpDoc(cnpSpec(), { name: 'p', namespace: 'x' }), status: { conditions: [] } };
    assert.deepStrictEqual(parseClusterNetworkPolicy(doc), makeCnp('p'));
  });
});

describe('isClusterNetworkPolicyDoc', () => {
  const cases: [unknown, boolean][] = [
    [cnpDoc({}), true],
    [{ kind: 'ClusterNetworkPolicy' }, true],
    [{ kind: 'ClusterNetworkPolicy', apiVersion: 'v1alpha2' }, true],
    [{ kind: 'ClusterNetworkPolicy', apiVersion: 'policy.networking.k8s.io/v1alpha1' }, true],
    [{ kind: 'ClusterNetworkPolicy', apiVersion: 'crd.antrea.io/v1beta1' }, false],
    [{ kind: 'AdminNetworkPolicy', apiVersion: 'policy.networking.k8s.io/v1alpha1' }, false],
    [{ kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1' }, false],
    [null, false],
    [[], false],
  ];
  for (const [doc, want] of cases) {
    it(`${JSON.stringify(doc)} → ${want}`, () => assert.equal(isClusterNetworkPolicyDoc(doc), want));
  }
});
