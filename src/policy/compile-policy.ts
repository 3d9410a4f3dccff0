// One policy (ordered.ts) → its chain per direction (shared by every endpoint it applies to) and the sets those
// chains use. Pure, and independent of the pods: the node compiler caches the result until the policy changes.
import { type Chain, createChain, createRule, type Family, type NamedSet } from '../ir/ir.js';
import { compileRule } from './compile-rule.js';
import { type Direction, originComment, policyChainName } from './names.js';
import { type OrderedPolicy, rulesOf } from './ordered.js';
import type { PodSetSpec } from './pod-sets.js';

export interface CompiledDirection {
  readonly chain: Chain;
  readonly sets: readonly NamedSet[];
  readonly podSets: readonly PodSetSpec[];
}

export type CompiledPolicy = Readonly<Record<Direction, CompiledDirection>>;

function compileDirection(
  policy: OrderedPolicy,
  d: Direction,
  families: readonly Family[],
): CompiledDirection {
  const name = policyChainName(policy.key, d, policy.tier);
  const rules = [];
  const sets: NamedSet[] = [];
  const podSets: PodSetSpec[] = [];
  // A policy with problems fails closed (ordered.ts): its translator left only rules that deny. A counting rule
  // first says why, in the listing and its counters.
  const broken = policy.problems.length > 0;
  if (broken)
    rules.push(
      createRule({
        comment: originComment(`${policy.origin}: invalid, allows nothing: ${policy.problems[0]}`),
      }),
    );
  for (const rule of rulesOf(policy, d) ?? []) {
    const out = compileRule({ policy, direction: d, rule, families });
    rules.push(...out.rules);
    sets.push(...out.sets);
    podSets.push(...out.podSets);
  }
  return {
    chain: createChain(name, rules, broken ? {} : { comment: `${policy.origin} ${d}` }),
    sets,
    podSets,
  };
}

export function compilePolicy(policy: OrderedPolicy, families: readonly Family[]): CompiledPolicy {
  return {
    egress: compileDirection(policy, 'egress', families),
    ingress: compileDirection(policy, 'ingress', families),
  };
}
