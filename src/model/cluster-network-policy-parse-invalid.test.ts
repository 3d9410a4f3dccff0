// Invalid ClusterNetworkPolicies, document and spec level: the exact problems, and the fail-closed shape (deny-only
// rules, the subject widened where it broke, Admin/0 when tier or priority is unknown). Rules:
// cluster-network-policy-parse-invalid-rules.test.ts; peers and protocols: ...-invalid-peers.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterNetworkPolicy } from './cluster-network-policy.js';
import { parseClusterNetworkPolicy } from './cluster-network-policy-parse.js';
import {
  cnpDoc,
  cnpSpec,
  denyAny,
  makeCnp,
  namespaces,
  pods,
  rule,
} from './cluster-network-policy-parse.testkit.js';

const EVERY = namespaces();
const failCase = (
  name: string,
  spec: unknown,
  problems: string[],
  shape: Partial<ClusterNetworkPolicy> = {},
) => ({
  name,
  spec,
  problems,
  shape,
});
const from = (ns: Record<string, string> = {}) => [{ namespaces: { matchLabels: ns } }];

describe('parseClusterNetworkPolicy: invalid specs fail closed', () => {
  const cases = [
    failCase(
      'spec missing: everything unknown, so every pod denies everything in Admin tier',
      undefined,
      ['spec: required'],
      {
        priority: 0,
        subject: EVERY,
        ingress: [denyAny()],
        egress: [denyAny()],
      },
    ),
    failCase('spec not an object', 'x', ['spec: must be an object, got "x"'], {
      priority: 0,
      subject: EVERY,
      ingress: [denyAny()],
      egress: [denyAny()],
    }),
    failCase('unknown spec field', cnpSpec({ ingres: [] }), ['spec.ingres: unknown field']),
    failCase('tier missing: Admin', cnpSpec({ tier: undefined }), ['spec.tier: required']),
    failCase('tier lower-case', cnpSpec({ tier: 'baseline' }), [
      'spec.tier: "baseline" must be one of Admin, Baseline',
    ]),
    failCase(
      'Baseline kept when something else is broken',
      cnpSpec({ tier: 'Baseline', priority: 1001 }),
      ['spec.priority: 1001 must be an integer from 0 to 1000'],
      { tier: 'Baseline', priority: 0 },
    ),
    failCase('priority missing: 0', cnpSpec({ priority: undefined }), ['spec.priority: required'], {
      priority: 0,
    }),
    failCase(
      'priority negative',
      cnpSpec({ priority: -1 }),
      ['spec.priority: -1 must be an integer from 0 to 1000'],
      {
        priority: 0,
      },
    ),
    failCase(
      'priority fractional',
      cnpSpec({ priority: 2.5 }),
      ['spec.priority: 2.5 must be an integer from 0 to 1000'],
      {
        priority: 0,
      },
    ),
    failCase(
      'priority a string',
      cnpSpec({ priority: '10' }),
      ['spec.priority: "10" must be an integer from 0 to 1000'],
      {
        priority: 0,
      },
    ),
    failCase('subject missing: every pod', cnpSpec({ subject: undefined }), ['spec.subject: required'], {
      subject: EVERY,
    }),
    failCase(
      'subject empty: every pod',
      cnpSpec({ subject: {} }),
      ['spec.subject: {} must set exactly one of namespaces, pods'],
      {
        subject: EVERY,
      },
    ),
    failCase(
      'subject with both: every pod',
      cnpSpec({ subject: { namespaces: {}, pods: { podSelector: {} } } }),
      ['spec.subject: {"namespaces":{},"pods":{"podSelector":{}}} must set exactly one of namespaces, pods'],
      { subject: EVERY },
    ),
    failCase(
      'subject labels written into the selector: every pod',
      cnpSpec({ subject: { namespaces: { team: 'a' } } }),
      ['spec.subject.namespaces.team: unknown field'],
      { subject: EVERY },
    ),
    failCase(
      'subject namespaces selector operator lower-case (the CRD accepts it): every pod',
      cnpSpec({
        subject: { namespaces: { matchExpressions: [{ key: 'env', operator: 'in', values: ['a'] }] } },
      }),
      [
        'spec.subject.namespaces.matchExpressions[0].operator: "in" is not one of In, NotIn, Exists, DoesNotExist',
      ],
      { subject: EVERY },
    ),
    failCase(
      'subject podSelector missing: every pod of the selected namespaces',
      cnpSpec({ subject: { pods: { namespaceSelector: { matchLabels: { team: 'a' } } } } }),
      ['spec.subject.pods.podSelector: required'],
      { subject: pods({ team: 'a' }, {}) },
    ),
    failCase(
      'subject podSelector broken: every pod of the selected namespaces',
      cnpSpec({
        subject: {
          pods: {
            namespaceSelector: { matchLabels: { team: 'a' } },
            podSelector: { matchLabels: { app: 'a b' } },
          },
        },
      }),
      ['spec.subject.pods.podSelector.matchLabels["app"]: value "a b" is not a valid label value'],
      { subject: pods({ team: 'a' }, {}) },
    ),
    failCase(
      'subject namespaceSelector broken: the selected pods of every namespace',
      cnpSpec({
        subject: {
          pods: { namespaceSelector: { matchLabels: 'team' }, podSelector: { matchLabels: { app: 'a' } } },
        },
      }),
      ['spec.subject.pods.namespaceSelector.matchLabels: must be a map of label keys to values, got "team"'],
      { subject: pods({}, { app: 'a' }) },
    ),
    failCase(
      'subject pods not an object: every pod',
      cnpSpec({ subject: { pods: 'web' } }),
      ['spec.subject.pods: must be an object, got "web"'],
      { subject: pods({}, {}) },
    ),
    failCase(
      'rules not a list: one Deny of everything',
      cnpSpec({ egress: { action: 'Deny' } }),
      ['spec.egress: must be a list, got {"action":"Deny"}'],
      { egress: [denyAny()] },
    ),
    failCase(
      '26 rules: every one kept, as Deny',
      cnpSpec({ ingress: Array.from({ length: 26 }, () => ({ action: 'Deny', from: from() })) }),
      ['spec.ingress: must have at most 25 items, got 26'],
      { ingress: Array.from({ length: 26 }, () => rule('Deny', [namespaces()])) },
    ),
  ];
  for (const c of cases) {
    it(c.name, () => {
      const want = makeCnp('p', c.shape, { problems: c.problems });
      assert.deepStrictEqual(parseClusterNetworkPolicy(cnpDoc(c.spec)), want);
    });
  }
});

describe('parseClusterNetworkPolicy: invalid documents', () => {
  const withRules = cnpSpec({
    ingress: [
      { action: 'Accept', from: from() },
      { action: 'Pass', from: from() },
    ],
  });
  const closed = { ingress: [rule('Deny', [namespaces()])] };
  const cases: { name: string; doc: unknown; want: ClusterNetworkPolicy }[] = [
    {
      name: 'not an object: every pod denies everything',
      doc: 'x',
      want: makeCnp('', {
        priority: 0,
        subject: EVERY,
        ingress: [denyAny()],
        egress: [denyAny()],
        problems: ['document: must be an object, got "x"'],
      }),
    },
    {
      name: 'wrong kind and apiVersion: the rules fail closed too',
      doc: {
        ...cnpDoc(withRules),
        kind: 'AdminNetworkPolicy',
        apiVersion: 'policy.networking.k8s.io/v1alpha1',
      },
      want: makeCnp('p', closed, {
        problems: [
          'kind: "AdminNetworkPolicy" must be "ClusterNetworkPolicy"',
          'apiVersion: "policy.networking.k8s.io/v1alpha1" must be "policy.networking.k8s.io/v1alpha2"',
        ],
      }),
    },
    {
      name: 'no metadata',
      doc: { ...cnpDoc(withRules), metadata: undefined },
      want: makeCnp('', closed, { problems: ['metadata: required, got undefined'] }),
    },
    {
      name: 'bad name and labels',
      doc: cnpDoc(withRules, { name: 'Deny_All', labels: { a: 'b c' } }),
      want: makeCnp('Deny_All', closed, {
        problems: [
          'metadata.name: "Deny_All" is not a valid ClusterNetworkPolicy name (a DNS subdomain)',
          'metadata.labels["a"]: value "b c" is not a valid label value',
        ],
      }),
    },
    {
      name: 'unknown top-level field',
      doc: { ...cnpDoc(withRules), sepc: {} },
      want: makeCnp('p', closed, { problems: ['sepc: unknown field'] }),
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(parseClusterNetworkPolicy(c.doc), c.want));
  }
});
