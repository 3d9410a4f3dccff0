import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClusterNetworkPolicy } from './cluster-network-policy-parse.js';
import { cnpDoc, cnpSpec } from './cluster-network-policy-parse.testkit.js';
import {
  type Condition,
  clusterPolicyConditions,
  type DesiredCondition,
  findCondition,
  mergeConditions,
} from './cluster-policy-conditions.js';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-02T00:00:00Z';
const conditionsOf = (spec: Record<string, unknown>, generation = 2) =>
  clusterPolicyConditions(parseClusterNetworkPolicy(cnpDoc(cnpSpec(spec))), generation);
const brief = (cs: readonly DesiredCondition[]) => cs.map((c) => [c.type, c.status, c.reason]);

describe('clusterPolicyConditions', () => {
  it('a valid policy is Accepted and Programmed, at its generation', () => {
    const got = conditionsOf({ ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] }, 4);
    assert.deepEqual(got, [
      {
        type: 'Accepted',
        status: 'True',
        reason: 'Accepted',
        message: 'The policy is valid',
        observedGeneration: 4,
      },
      {
        type: 'Programmed',
        status: 'True',
        reason: 'Programmed',
        message: 'Programmed as written',
        observedGeneration: 4,
      },
    ]);
  });

  it('a domainNames peer: Accepted, PartiallyProgrammed naming the part not programmed', () => {
    const got = conditionsOf({ egress: [{ action: 'Accept', to: [{ domainNames: ['example.com'] }] }] });
    assert.deepEqual(brief(got), [
      ['Accepted', 'True', 'Accepted'],
      ['Programmed', 'True', 'PartiallyProgrammed'],
    ]);
    assert.match(
      got[1]!.message,
      /^Programmed except: spec\.egress\[0\]\.to\[0\]\.domainNames: not programmed/,
    );
  });

  it('a policy with problems: not Accepted (InvalidSpec, every problem), Programmed False (Invalid)', () => {
    const got = conditionsOf({
      tier: 'Middle',
      ingress: [{ action: 'Accept', from: [{ namespaces: { matchLabels: { app: 'a b' } } }] }],
    });
    assert.deepEqual(brief(got), [
      ['Accepted', 'False', 'InvalidSpec'],
      ['Programmed', 'False', 'Invalid'],
    ]);
    assert.equal(
      got[0]!.message,
      '2 problems: spec.tier: "Middle" must be one of Admin, Baseline; ' +
        'spec.ingress[0].from[0].namespaces.matchLabels["app"]: value "a b" is not a valid label value',
    );
    assert.match(got[1]!.message, /fails closed and only denies/);
  });

  it('no generation known: no observedGeneration', () => {
    const got = clusterPolicyConditions({ problems: [], notProgrammed: [] }, undefined);
    assert.ok(got.every((c) => !('observedGeneration' in c)));
  });

  it('bounds a message to the CRD limit', () => {
    const problems = Array.from({ length: 1000 }, (_, i) => `spec.x[${i}]: ${'v'.repeat(60)}`);
    const [accepted] = clusterPolicyConditions({ problems, notProgrammed: [] }, 1);
    assert.equal(accepted!.message.length, 32_768);
    assert.ok(accepted!.message.endsWith('...'));
  });
});

describe('mergeConditions', () => {
  const accepted = (status: 'True' | 'False', extra: Partial<Condition> = {}): Condition => ({
    type: 'Accepted',
    status,
    reason: status === 'True' ? 'Accepted' : 'InvalidSpec',
    message: status === 'True' ? 'ok' : 'bad',
    observedGeneration: 1,
    lastTransitionTime: T0,
    ...extra,
  });
  const desired = ({ lastTransitionTime: _, ...c }: Condition): DesiredCondition => c;
  const other = { type: 'Ready', status: 'True', reason: 'X', message: '', lastTransitionTime: T0 };

  const cases: { name: string; current: unknown; want: DesiredCondition[]; got: unknown[] | undefined }[] = [
    {
      name: 'none stored: set, at now',
      current: undefined,
      want: [desired(accepted('True'))],
      got: [accepted('True', { lastTransitionTime: T1 })],
    },
    {
      name: 'the same stored (its time aside): nothing to write',
      current: [accepted('True')],
      want: [desired(accepted('True'))],
      got: undefined,
    },
    {
      name: 'a new generation, status unchanged: the transition time stays',
      current: [other, accepted('True')],
      want: [desired(accepted('True', { observedGeneration: 2 }))],
      got: [other, accepted('True', { observedGeneration: 2 })],
    },
    {
      name: 'the status changes: now; conditions of other types stay, in place',
      current: [accepted('True'), other],
      want: [desired(accepted('False'))],
      got: [accepted('False', { lastTransitionTime: T1 }), other],
    },
    {
      name: 'a stored condition without a time is rewritten',
      current: [{ ...accepted('True'), lastTransitionTime: undefined }],
      want: [desired(accepted('True'))],
      got: [accepted('True', { lastTransitionTime: T1 })],
    },
    {
      name: 'conditions that are not a list are replaced',
      current: 'junk',
      want: [desired(accepted('True'))],
      got: [accepted('True', { lastTransitionTime: T1 })],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(mergeConditions(c.current, c.want, T1), c.got);
    });
  }

  it('findCondition reads a stored list by type', () => {
    assert.equal(findCondition([other, accepted('True')], 'Accepted')?.status, 'True');
    assert.equal(findCondition('junk', 'Accepted'), undefined);
  });
});
