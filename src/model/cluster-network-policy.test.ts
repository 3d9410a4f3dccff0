import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ClusterPolicyTier,
  clusterPolicyKey,
  compareClusterPolicies,
} from './cluster-network-policy.js';
import { policyKey } from './network-policy.js';

describe('compareClusterPolicies', () => {
  const p = (tier: ClusterPolicyTier, priority: number, name: string) => ({ tier, priority, name });
  it('Admin before Baseline, then priority ascending, then name in code-unit order', () => {
    const given = [
      p('Baseline', 0, 'a'),
      p('Admin', 1000, 'z'),
      p('Admin', 5, 'b'),
      p('Admin', 5, 'B'),
      p('Admin', 5, 'a-10'),
      p('Admin', 5, 'a-9'),
      p('Admin', 0, 'zz'),
      p('Baseline', 3, 'a'),
    ];
    const want = [
      p('Admin', 0, 'zz'),
      p('Admin', 5, 'B'),
      p('Admin', 5, 'a-10'),
      p('Admin', 5, 'a-9'),
      p('Admin', 5, 'b'),
      p('Admin', 1000, 'z'),
      p('Baseline', 0, 'a'),
      p('Baseline', 3, 'a'),
    ];
    assert.deepStrictEqual([...given].sort(compareClusterPolicies), want);
    assert.deepStrictEqual([...given].reverse().sort(compareClusterPolicies), want);
  });
  it('is a total order: equal only to itself', () => {
    assert.equal(compareClusterPolicies(p('Admin', 5, 'x'), p('Admin', 5, 'x')), 0);
    assert.ok(compareClusterPolicies(p('Admin', 5, 'x'), p('Admin', 5, 'y')) < 0);
    assert.ok(compareClusterPolicies(p('Baseline', 0, 'a'), p('Admin', 1000, 'z')) > 0);
  });
});

describe('clusterPolicyKey', () => {
  it('is the name, never equal to a NetworkPolicy key', () => {
    assert.equal(clusterPolicyKey({ name: 'deny-all' }), 'deny-all');
    assert.notEqual(clusterPolicyKey({ name: 'default' }), policyKey({ namespace: 'default', name: '' }));
    assert.ok(!clusterPolicyKey({ name: 'a.b' }).includes('/'));
  });
});
