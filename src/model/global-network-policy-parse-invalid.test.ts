// Invalid GlobalNetworkPolicies, document and spec level: the exact problems, and the fail-closed shape (Allow,
// Pass and Log rules dropped, broken rules a Deny of everything, selector widened to all() and namespaceSelector
// dropped where broken, types both where broken, preDNAT/doNotTrack cleared). Rules and entity rules:
// global-network-policy-parse-invalid-rules.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GlobalNetworkPolicy } from './global-network-policy.js';
import { parseGlobalNetworkPolicy } from './global-network-policy-parse.js';
import { DENY_ALL, entity, gnpDoc, makeGnp, rule } from './global-network-policy-parse.testkit.js';

/** A valid spec with every action: failing closed keeps only its whole Deny rule. */
const RULES = {
  selector: 'has(host-endpoint)',
  ingress: [
    { action: 'Allow' },
    { action: 'Deny', source: { nets: ['10.0.0.0/8'] } },
    { action: 'Pass' },
    { action: 'Log' },
  ],
  egress: [{ action: 'Allow' }],
};
const spec = (rest: Record<string, unknown> = {}) => ({ ...RULES, ...rest });
const DENY_NETS = rule('Deny', { source: entity({ nets: ['10.0.0.0/8'] }) });
const ALL = { text: '', selector: { kind: 'all' } } as const;
/** RULES failed closed, with the selector it had. */
const CLOSED: Partial<GlobalNetworkPolicy> = {
  selector: { text: 'has(host-endpoint)', selector: { kind: 'has', key: 'host-endpoint' } },
  types: ['Ingress', 'Egress'],
  ingress: [DENY_NETS],
  egress: [],
};
const BOTH: GlobalNetworkPolicy['types'] = ['Ingress', 'Egress'];

const failCase = (
  name: string,
  s: unknown,
  problems: string[],
  shape: Partial<GlobalNetworkPolicy> = {},
) => ({
  name,
  spec: s,
  problems,
  shape,
});

describe('parseGlobalNetworkPolicy: invalid specs fail closed', () => {
  const cases = [
    failCase('spec missing: every endpoint, both ways, deny everything', undefined, ['spec: required'], {
      types: BOTH,
      ingress: [DENY_ALL],
      egress: [DENY_ALL],
      applyOnForward: true,
    }),
    failCase('spec not an object', 'x', ['spec: must be an object, got "x"'], {
      types: BOTH,
      ingress: [DENY_ALL],
      egress: [DENY_ALL],
      applyOnForward: true,
    }),
    failCase('unknown spec field', spec({ ingres: [] }), ['spec.ingres: unknown field'], CLOSED),
    failCase('order a string', spec({ order: '10' }), ['spec.order: "10" must be a number'], CLOSED),
    failCase(
      'selector broken: all()',
      spec({ selector: "role = 'db'" }),
      [
        'spec.selector: "role = \'db\'" is not a valid selector: at character 6: expected "==", "!=", "in", "not in", "contains", "starts with" or "ends with", found "= \'db\'"',
      ],
      { ...CLOSED, selector: ALL },
    ),
    failCase(
      'selector with global(): all()',
      spec({ selector: 'global()' }),
      ['spec.selector: "global()" may not use global() (only an EntityRule namespaceSelector may)'],
      { ...CLOSED, selector: ALL },
    ),
    failCase(
      'selector not a string: all()',
      spec({ selector: { matchLabels: { a: 'b' } } }),
      ['spec.selector: {"matchLabels":{"a":"b"}} must be a selector string'],
      { ...CLOSED, selector: ALL },
    ),
    failCase(
      'selector over 1024 characters: all()',
      spec({ selector: `has(${'a'.repeat(1021)})` }),
      [`spec.selector: "has(${'a'.repeat(112)}... must be at most 1024 characters`],
      { ...CLOSED, selector: ALL },
    ),
    failCase(
      'namespaceSelector broken: no namespace limit',
      spec({ namespaceSelector: 'has(team' }),
      [
        'spec.namespaceSelector: "has(team" is not a valid selector: at character 9: expected ")", found the end',
      ],
      CLOSED,
    ),
    failCase(
      'types lower-case: both',
      spec({ types: ['ingress'] }),
      ['spec.types[0]: "ingress" must be one of Ingress, Egress'],
      CLOSED,
    ),
    failCase(
      'types repeated: both',
      { ingress: [{ action: 'Deny' }], types: ['Ingress', 'Ingress'] },
      ['spec.types[1]: "Ingress" is listed twice'],
      { types: BOTH, ingress: [rule('Deny')] },
    ),
    failCase('types not a list: both', { types: 'Egress' }, ['spec.types: must be a list, got "Egress"'], {
      types: BOTH,
    }),
    failCase(
      'a tier other than default',
      spec({ tier: 'security' }),
      ['spec.tier: "security" is not supported (Palisade has only the default tier)'],
      CLOSED,
    ),
    failCase(
      'a serviceAccountSelector other than all()',
      spec({ serviceAccountSelector: "name == 'web'" }),
      ['spec.serviceAccountSelector: "name == \'web\'" is not supported by Palisade (only all() is)'],
      CLOSED,
    ),
    failCase(
      'an unknown performance hint',
      spec({ performanceHints: ['Fast'] }),
      ['spec.performanceHints: ["Fast"] must be a list of distinct AssumeNeededOnEveryNode'],
      CLOSED,
    ),
    failCase(
      'ingress not a list: one Deny of everything',
      { ingress: { action: 'Allow' } },
      ['spec.ingress: must be a list, got {"action":"Allow"}'],
      { ingress: [DENY_ALL] },
    ),
    failCase(
      '1025 rules: every one kept',
      { ingress: Array.from({ length: 1025 }, () => ({ action: 'Deny' })) },
      ['spec.ingress: must have at most 1024 items, got 1025'],
      { ingress: Array.from({ length: 1025 }, () => rule('Deny')) },
    ),
  ];
  for (const c of cases) {
    it(c.name, () => {
      const want = makeGnp('p', c.shape, { problems: c.problems });
      assert.deepStrictEqual(parseGlobalNetworkPolicy(gnpDoc(c.spec)), want);
    });
  }
});

describe('parseGlobalNetworkPolicy: preDNAT, doNotTrack and applyOnForward (Calico CEL rules)', () => {
  const ingress = [{ action: 'Allow' }, { action: 'Deny' }];
  const closed = { ingress: [rule('Deny')] };
  const cases = [
    failCase(
      'preDNAT with egress rules: cleared, normal policy',
      { preDNAT: true, applyOnForward: true, ingress, egress: [{ action: 'Deny' }] },
      ['spec.egress: [{"action":"Deny"}] must be empty in a preDNAT policy'],
      { ...closed, types: BOTH, egress: [rule('Deny')], applyOnForward: true },
    ),
    failCase(
      'preDNAT with types Egress',
      { preDNAT: true, applyOnForward: true, ingress, types: ['Ingress', 'Egress'] },
      ['spec.types: ["Ingress","Egress"] may not include Egress in a preDNAT policy'],
      { ...closed, types: BOTH, applyOnForward: true },
    ),
    failCase(
      'preDNAT without applyOnForward',
      { preDNAT: true, ingress },
      ['spec.applyOnForward: false must be true with preDNAT: true'],
      closed,
    ),
    failCase(
      'doNotTrack with applyOnForward false',
      { doNotTrack: true, applyOnForward: false, ingress },
      ['spec.applyOnForward: false must be true with doNotTrack: true'],
      closed,
    ),
    failCase(
      'preDNAT and doNotTrack',
      { preDNAT: true, doNotTrack: true, applyOnForward: true, ingress },
      ['spec.doNotTrack: true cannot be combined with preDNAT: true'],
      { ...closed, applyOnForward: true },
    ),
    failCase(
      'preDNAT a string: false',
      { preDNAT: 'true', ingress },
      ['spec.preDNAT: "true" must be true or false'],
      closed,
    ),
    failCase(
      'applyOnForward a string: true (applies at least as widely)',
      { applyOnForward: 'yes', ingress },
      ['spec.applyOnForward: "yes" must be true or false'],
      { ...closed, applyOnForward: true },
    ),
  ];
  for (const c of cases) {
    it(c.name, () => {
      const want = makeGnp('p', c.shape, { problems: c.problems });
      assert.deepStrictEqual(parseGlobalNetworkPolicy(gnpDoc(c.spec)), want);
    });
  }
});

describe('parseGlobalNetworkPolicy: invalid documents', () => {
  const cases: { name: string; doc: unknown; want: GlobalNetworkPolicy }[] = [
    {
      name: 'not an object: every endpoint denies everything',
      doc: 'x',
      want: makeGnp('', {
        group: 'palisade.dev',
        types: BOTH,
        ingress: [DENY_ALL],
        egress: [DENY_ALL],
        applyOnForward: true,
        problems: ['document: must be an object, got "x"'],
      }),
    },
    {
      name: 'unknown apiVersion (read as palisade.dev) and wrong kind',
      doc: { ...gnpDoc(spec()), apiVersion: 'projectcalico.org/v1', kind: 'NetworkPolicy' },
      want: makeGnp('p', CLOSED, {
        group: 'palisade.dev',
        problems: [
          'apiVersion: "projectcalico.org/v1" must be one of palisade.dev/v1, crd.projectcalico.org/v1, projectcalico.org/v3',
          'kind: "NetworkPolicy" must be "GlobalNetworkPolicy"',
        ],
      }),
    },
    {
      name: 'no metadata',
      doc: { ...gnpDoc(spec()), metadata: undefined },
      want: makeGnp('', CLOSED, { problems: ['metadata: required, got undefined'] }),
    },
    {
      name: 'bad name (two dots) and labels',
      doc: gnpDoc(spec(), { name: 'a.b.c', labels: { a: 'b c' } }),
      want: makeGnp('a.b.c', CLOSED, {
        problems: [
          'metadata.name: "a.b.c" is not a valid GlobalNetworkPolicy name (a DNS label, or two joined by a dot)',
          'metadata.labels["a"]: value "b c" is not a valid label value',
        ],
      }),
    },
    {
      name: 'unknown top-level field',
      doc: { ...gnpDoc(spec()), sepc: {} },
      want: makeGnp('p', CLOSED, { problems: ['sepc: unknown field'] }),
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(parseGlobalNetworkPolicy(c.doc), c.want));
  }
});
