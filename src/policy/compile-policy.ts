// One NetworkPolicy → its chain per direction (shared by every endpoint it selects) and the sets those chains
// use. Pure, and independent of the pods: the node compiler caches the result until the policy changes.

import { type Chain, createChain, createRule, type Family, type NamedSet } from '../ir/ir.js';
import type { PodInfo } from '../model/cluster.js';
import { type NetworkPolicy, policyKey } from '../model/network-policy.js';
import { selectorMatches } from '../model/selector.js';
import { compileRule } from './compile-rule.js';
import { type Direction, originComment, policyChainName } from './names.js';
import type { PodSetSpec } from './pod-sets.js';

export interface CompiledDirection {
  readonly chain: Chain;
  readonly sets: readonly NamedSet[];
  readonly podSets: readonly PodSetSpec[];
}

export type CompiledPolicy = Readonly<Record<Direction, CompiledDirection>>;

/** Whether `policy` selects `pod` for direction `d` (same namespace, type listed, podSelector matches). */
export function selects(policy: NetworkPolicy, pod: PodInfo, d: Direction): boolean {
  const type = d === 'ingress' ? 'Ingress' : 'Egress';
  return (
    policy.namespace === pod.namespace &&
    policy.policyTypes.includes(type) &&
    selectorMatches(policy.podSelector, pod.labels)
  );
}

function compileDirection(
  policy: NetworkPolicy,
  d: Direction,
  families: readonly Family[],
): CompiledDirection {
  const key = policyKey(policy);
  const name = policyChainName(key, d);
  if (policy.problems.length > 0) {
    const why = originComment(`np:${key}: invalid, allows nothing: ${policy.problems[0]}`);
    return { chain: createChain(name, [createRule({ comment: why })]), sets: [], podSets: [] };
  }
  const rules = [];
  const sets: NamedSet[] = [];
  const podSets: PodSetSpec[] = [];
  const list = d === 'ingress' ? policy.ingress : policy.egress;
  for (let index = 0; index < list.length; index++) {
    const out = compileRule({ policy, direction: d, index, rule: list[index]!, families });
    rules.push(...out.rules);
    sets.push(...out.sets);
    podSets.push(...out.podSets);
  }
  return { chain: createChain(name, rules, { comment: `np:${key} ${d}` }), sets, podSets };
}

export function compilePolicy(policy: NetworkPolicy, families: readonly Family[]): CompiledPolicy {
  return {
    egress: compileDirection(policy, 'egress', families),
    ingress: compileDirection(policy, 'ingress', families),
  };
}
