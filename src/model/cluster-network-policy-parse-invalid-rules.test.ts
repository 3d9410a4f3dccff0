// Invalid ClusterNetworkPolicy rules: the exact problems, and how a policy with problems fails closed rule by rule
// (Accept dropped, Pass made Deny, Deny kept, a rule that did not parse whole a Deny of every peer on every port).
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
  port,
  rule,
} from './cluster-network-policy-parse.testkit.js';

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

describe('parseClusterNetworkPolicy: broken rules', () => {
  const I = 'spec.ingress';
  const cases = [
    failCase(
      'the brief example: Accept dropped, Pass made Deny, Deny kept, an unknown action a Deny of everything',
      cnpSpec({
        ingress: [
          { name: 'ok', action: 'Accept', from: from({ a: '1' }) },
          {
            name: 'pass',
            action: 'Pass',
            from: from({ b: '2' }),
            protocols: [{ tcp: { destinationPort: { number: 80 } } }],
          },
          { action: 'Deny', from: from({ c: '3' }) },
          { name: 'allow', action: 'Allow', from: from({ d: '4' }) },
        ],
      }),
      [`${I}[3].action: "Allow" must be one of Accept, Deny, Pass`],
      {
        ingress: [
          rule('Deny', [namespaces({ b: '2' })], [port('TCP', 80)], 'pass'),
          rule('Deny', [namespaces({ c: '3' })]),
          denyAny('allow'),
        ],
      },
    ),
    failCase(
      'a broken Accept is dropped, a broken Deny or Pass denies everything',
      cnpSpec({
        ingress: [
          { action: 'Accept', from: [{}] },
          { action: 'Deny', from: [{}] },
          { action: 'Pass', from: [] },
        ],
      }),
      [
        `${I}[0].from[0]: {} must set exactly one of namespaces, pods`,
        `${I}[1].from[0]: {} must set exactly one of namespaces, pods`,
        `${I}[2].from: must have at least 1 item, got 0`,
      ],
      { ingress: [denyAny(), denyAny()] },
    ),
    failCase('action missing', cnpSpec({ ingress: [{ from: from() }] }), [`${I}[0].action: required`], {
      ingress: [denyAny()],
    }),
    failCase('from missing', cnpSpec({ ingress: [{ action: 'Deny' }] }), [`${I}[0].from: required`], {
      ingress: [denyAny()],
    }),
    failCase(
      'from not a list',
      cnpSpec({ ingress: [{ action: 'Deny', from: { namespaces: {} } }] }),
      [`${I}[0].from: must be a list, got {"namespaces":{}}`],
      { ingress: [denyAny()] },
    ),
    failCase(
      '26 peers',
      cnpSpec({
        ingress: [{ action: 'Deny', from: Array.from({ length: 26 }, () => ({ namespaces: {} })) }],
      }),
      [`${I}[0].from: must have at most 25 items, got 26`],
      { ingress: [denyAny()] },
    ),
    failCase(
      'NetworkPolicy habits: ports instead of protocols is an unknown field, and makes the rule broken',
      cnpSpec({ egress: [{ action: 'Deny', to: from(), ports: [{ port: 80 }] }] }),
      ['spec.egress[0].ports: unknown field'],
      { egress: [denyAny()] },
    ),
    failCase(
      'a bad rule name is a problem and is left out, but the rule still parsed whole',
      cnpSpec({
        ingress: [
          { name: 'x'.repeat(101), action: 'Deny', from: from() },
          { name: 7, action: 'Pass', from: from() },
        ],
      }),
      [
        `${I}[0].name: "${'x'.repeat(101)}" must be at most 100 characters`,
        `${I}[1].name: 7 must be a string`,
      ],
      { ingress: [rule('Deny', [namespaces()]), rule('Deny', [namespaces()])] },
    ),
    failCase(
      'rule name length counts characters, not bytes',
      cnpSpec({ ingress: [{ name: 'é'.repeat(100), action: 'Deny', from: from() }] }),
      [],
      {
        ingress: [rule('Deny', [namespaces()], [], 'é'.repeat(100))],
      },
    ),
    failCase(
      'rule not an object; null rule is {}',
      cnpSpec({ ingress: [7, null] }),
      [`${I}[0]: must be an object, got 7`, `${I}[1].action: required`, `${I}[1].from: required`],
      { ingress: [denyAny(), denyAny()] },
    ),
  ];
  for (const c of cases) {
    it(c.name, () => {
      const want = makeCnp('p', c.shape, { problems: c.problems });
      assert.deepStrictEqual(parseClusterNetworkPolicy(cnpDoc(c.spec)), want);
    });
  }
});
