import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { EMPTY_SELECTOR, type NetworkPolicy } from './network-policy.js';
import { isNetworkPolicyDoc, parseNetworkPolicy } from './network-policy-parse.js';
import {
  ipPeer,
  labels,
  makePolicy,
  npDoc,
  nsPeer,
  podPeer,
  port,
  rule,
} from './network-policy-parse.testkit.js';

// --- valid policies -------------------------------------------------------------------------------------

describe('parseNetworkPolicy: valid policies', () => {
  const cases: { name: string; yaml: string; want: NetworkPolicy }[] = [
    {
      name: 'kubernetes.io test-network-policy (ipBlock+except, namespaceSelector, podSelector, ports)',
      yaml: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: test-network-policy, namespace: default }
spec:
  podSelector: { matchLabels: { role: db } }
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - ipBlock: { cidr: 172.17.0.0/16, except: [172.17.1.0/24] }
        - namespaceSelector: { matchLabels: { project: myproject } }
        - podSelector: { matchLabels: { role: frontend } }
      ports: [{ protocol: TCP, port: 6379 }]
  egress:
    - to: [{ ipBlock: { cidr: 10.0.0.0/24 } }]
      ports: [{ protocol: TCP, port: 5978 }]
`,
      want: makePolicy('test-network-policy', 'default', {
        podSelector: labels({ role: 'db' }),
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          rule(
            [
              ipPeer('172.17.0.0/16', '172.17.1.0/24'),
              nsPeer({ project: 'myproject' }),
              podPeer({ role: 'frontend' }),
            ],
            [port('TCP', 6379)],
          ),
        ],
        egress: [rule([ipPeer('10.0.0.0/24')], [port('TCP', 5978)])],
      }),
    },
    {
      name: 'default-deny-ingress',
      yaml: 'kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: d}\nspec: {podSelector: {}, policyTypes: [Ingress]}',
      want: makePolicy('d', 'default'),
    },
    {
      name: 'allow-all-ingress',
      yaml: 'kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: a}\nspec: {podSelector: {}, ingress: [{}]}',
      want: makePolicy('a', 'default', { ingress: [rule([])] }),
    },
    {
      name: 'default-deny-egress',
      yaml: 'kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: d}\nspec: {podSelector: {}, policyTypes: [Egress]}',
      want: makePolicy('d', 'default', { policyTypes: ['Egress'] }),
    },
    {
      name: 'allow-all-egress',
      yaml: 'kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: a}\nspec: {podSelector: {}, egress: [{}], policyTypes: [Egress]}',
      want: makePolicy('a', 'default', { policyTypes: ['Egress'], egress: [rule([])] }),
    },
    {
      name: 'default-deny-all',
      yaml: 'kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: d}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}',
      want: makePolicy('d', 'default', { policyTypes: ['Ingress', 'Egress'] }),
    },
    {
      name: 'kubernetes.io endPort example',
      yaml: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: multi-port-egress, namespace: default }
spec:
  podSelector: { matchLabels: { role: db } }
  policyTypes: [Egress]
  egress:
    - to: [{ ipBlock: { cidr: 10.0.0.0/24 } }]
      ports: [{ protocol: TCP, port: 32000, endPort: 32768 }]
`,
      want: makePolicy('multi-port-egress', 'default', {
        podSelector: labels({ role: 'db' }),
        policyTypes: ['Egress'],
        egress: [rule([ipPeer('10.0.0.0/24')], [port('TCP', 32000, 32768)])],
      }),
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(parseNetworkPolicy(parseYaml(c.yaml)), c.want));
  }
});

describe('parseNetworkPolicy: defaults and shapes', () => {
  const cases: { name: string; spec: unknown; want: Partial<NetworkPolicy> }[] = [
    { name: 'no spec: Ingress isolation of the namespace', spec: undefined, want: {} },
    { name: 'inferred: ingress rules only', spec: { ingress: [{}] }, want: { ingress: [rule([])] } },
    {
      name: 'inferred: egress rules add Egress',
      spec: { egress: [{ to: [{ podSelector: {} }] }] },
      want: { policyTypes: ['Ingress', 'Egress'], egress: [rule([{ podSelector: EMPTY_SELECTOR }])] },
    },
    { name: 'inferred: empty egress list is Ingress only', spec: { egress: [] }, want: {} },
    {
      name: 'inferred: empty policyTypes list is defaulted',
      spec: { policyTypes: [], egress: [{}] },
      want: { policyTypes: ['Ingress', 'Egress'], egress: [rule([])] },
    },
    {
      name: 'explicit policyTypes win, rules kept',
      spec: { policyTypes: ['Egress'], ingress: [{}] },
      want: { policyTypes: ['Egress'], ingress: [rule([])] },
    },
    {
      name: 'explicit order kept',
      spec: { policyTypes: ['Egress', 'Ingress'] },
      want: { policyTypes: ['Egress', 'Ingress'] },
    },
    {
      name: 'named port, SCTP, UDP, port without protocol, protocol without port',
      spec: {
        ingress: [
          { ports: [{ port: 'http' }, { protocol: 'SCTP', port: 9 }, { protocol: 'UDP' }, { port: 53 }] },
        ],
      },
      want: { ingress: [rule([], [port('TCP', 'http'), port('SCTP', 9), port('UDP'), port('TCP', 53)])] },
    },
    {
      name: 'namespaceSelector and podSelector in one peer, expressions',
      spec: {
        podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }] },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'a' } }, podSelector: {} }] }],
      },
      want: {
        podSelector: {
          matchLabels: {},
          matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }],
        },
        ingress: [rule([{ namespaceSelector: labels({ team: 'a' }), podSelector: EMPTY_SELECTOR }])],
      },
    },
    {
      name: 'ipBlock CIDRs in canonical text',
      spec: {
        ingress: [{ from: [{ ipBlock: { cidr: '2001:DB8:0:0::/64', except: ['2001:db8:0:0:1::/80'] } }] }],
      },
      want: { ingress: [rule([ipPeer('2001:db8::/64', '2001:db8:0:0:1::/80')])] },
    },
    {
      name: 'null items decode as Go does: zero values',
      spec: { ingress: [null, { ports: [null] }], egress: null, policyTypes: null, podSelector: null },
      want: { ingress: [rule([]), rule([], [port('TCP')])] },
    },
    {
      name: 'null fields are absent',
      spec: { ingress: [{ from: null, ports: null }] },
      want: { ingress: [rule([])] },
    },
  ];
  for (const c of cases) {
    it(c.name, () =>
      assert.deepStrictEqual(parseNetworkPolicy(npDoc(c.spec)), makePolicy('p', 'shop', c.want)),
    );
  }
  it('defaults the namespace and accepts a status', () => {
    const got = parseNetworkPolicy({ ...npDoc({}, { name: 'p' }), status: {} });
    assert.deepStrictEqual(got, makePolicy('p', 'default'));
  });
});

describe('parseNetworkPolicy: invalid documents', () => {
  const both = { policyTypes: ['Ingress', 'Egress'] } as const;
  const cases: { name: string; doc: unknown; want: NetworkPolicy }[] = [
    {
      name: 'not an object',
      doc: 'x',
      want: makePolicy('', 'default', both, { problems: ['document: must be an object, got "x"'] }),
    },
    {
      name: 'wrong kind and apiVersion',
      doc: { ...npDoc({}), kind: 'Pod', apiVersion: 'extensions/v1beta1' },
      want: makePolicy('p', 'shop', {
        problems: [
          'kind: "Pod" must be "NetworkPolicy"',
          'apiVersion: "extensions/v1beta1" must be "networking.k8s.io/v1"',
        ],
      }),
    },
    {
      name: 'no metadata',
      doc: { ...npDoc({}), metadata: undefined },
      want: makePolicy('', 'default', { problems: ['metadata: required, got undefined'] }),
    },
    {
      name: 'bad name, namespace and labels',
      doc: npDoc({}, { name: 'Deny_All', namespace: 'Shop', labels: { a: 'b c' } }),
      want: makePolicy('Deny_All', 'Shop', {
        problems: [
          'metadata.name: "Deny_All" is not a valid NetworkPolicy name (a DNS subdomain)',
          'metadata.namespace: "Shop" is not a valid namespace name',
          'metadata.labels["a"]: value "b c" is not a valid label value',
        ],
      }),
    },
    {
      name: 'namespace not a string matches no namespace',
      doc: npDoc({}, { name: 'p', namespace: 5 }),
      want: makePolicy('p', '', { problems: ['metadata.namespace: 5 is not a valid namespace name'] }),
    },
    {
      name: 'unknown top-level field',
      doc: { ...npDoc({}), sepc: {} },
      want: makePolicy('p', 'shop', { problems: ['sepc: unknown field'] }),
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(parseNetworkPolicy(c.doc), c.want));
  }
});

describe('isNetworkPolicyDoc', () => {
  const cases: [unknown, boolean][] = [
    [npDoc({}), true],
    [{ kind: 'NetworkPolicy' }, true],
    [{ kind: 'NetworkPolicy', apiVersion: 'v1' }, true],
    [{ kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1beta1' }, true],
    [{ kind: 'NetworkPolicy', apiVersion: 'extensions/v1beta1' }, true],
    [{ kind: 'NetworkPolicy', apiVersion: 'projectcalico.org/v3' }, false],
    [{ kind: 'Pod', apiVersion: 'v1' }, false],
    [null, false],
    [[], false],
  ];
  for (const [doc, want] of cases) {
    it(`${JSON.stringify(doc)} → ${want}`, () => assert.equal(isNetworkPolicyDoc(doc), want));
  }
});
