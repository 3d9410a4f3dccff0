// One local endpoint's chains for one direction: the tier pipeline of ordered.ts, written as nftables chains.
// Pure. The node compiler (node-compiler.ts) decides which policies select the endpoint and when to rebuild.
//
//   ep_<pod>_<dir>:  [jump ea_]  NetworkPolicy tier  |  Baseline tier
//   ea_<pod>_<dir>:  the Admin tier: clear PASS_MARK; per policy: jump ca_<policy>; "mark set: clear, return"
//   en_<pod>_<dir>:  the NetworkPolicy tier when one of its policies can Pass (GlobalNetworkPolicy): clear the
//                    mark; per policy: jump; "mark set: return" (the mark stays for ep_ to read)
// In ep_, the NetworkPolicy tier is the jumps to its policies and a final drop ("isolated"); with en_, it is
// "jump en_; mark not set: drop; clear the mark; the Baseline tier". The Baseline tier runs where no policy of
// the NetworkPolicy tier applies, or after a Pass. A tier with more than `mergeAbove` policies is merged
// (compile-endpoint.ts) instead of jumped.
import {
  type Chain,
  createChain,
  createRule,
  drop,
  type Family,
  jump,
  type MarkStatement,
  type Rule,
} from '../ir/ir.js';
import type { PodInfo } from '../model/cluster.js';
import { inlineOnly, type MergedRules, mergedEndpointRules, mergedTierRules } from './compile-endpoint.js';
import {
  adminTierChainName,
  type Direction,
  endpointChainName,
  networkPolicyTierChainName,
  originComment,
  PASS_MARK,
  policyChainName,
} from './names.js';
import { type OrderedPolicy, rulesOf } from './ordered.js';

export interface EndpointDirection {
  /** Every policy that applies, in pipeline order, as "tier key" (+ " pass"): what the chains depend on. */
  readonly policies: readonly string[];
  /** The policies whose chains are jumped to (all but merged ones). */
  readonly jumped: readonly string[];
  readonly chain: Chain;
  /** The endpoint's tier chains (ea_, en_) that `chain` jumps to. */
  readonly tierChains: readonly Chain[];
  /** Set when a tier's policies are merged into the chains (many apply to the pod): the sets their rules use. */
  readonly merged?: Pick<MergedRules, 'sets' | 'podSets'>;
  /** The policies it was built from, in order (the very objects: a changed policy is a new one). */
  readonly sources: readonly OrderedPolicy[];
}

const CLEAR: MarkStatement = { bit: PASS_MARK, set: false };
const PASSED = { kind: 'mark-bit', bit: PASS_MARK, set: true } as const;

function canPass(p: OrderedPolicy, d: Direction): boolean {
  return (rulesOf(p, d) ?? []).some((r) => r.action === 'pass');
}

/** What the chains of an endpoint depend on: the policies in order, and which of them can pass. */
export function pipelineKey(selecting: readonly OrderedPolicy[], d: Direction): string[] {
  return selecting.map((p) => `${p.tier} ${p.key}${canPass(p, d) ? ' pass' : ''}`);
}

/**
 * A tier chain of jumps: the pass bit cleared, then each policy, each followed by the check for its pass. In
 * Admin, a pass clears the bit and returns (on to NetworkPolicy); in NetworkPolicy, it returns with the bit set.
 */
function tierChain(
  name: string,
  label: string,
  policies: readonly OrderedPolicy[],
  d: Direction,
  keep: boolean,
): Chain {
  return createChain(name, [
    createRule({ mark: CLEAR, counter: false, comment: originComment(label) }),
    ...policies.flatMap((p) => [
      createRule({ verdict: jump(policyChainName(p.key, d, p.tier)), counter: false, comment: p.origin }),
      createRule({
        matches: [PASSED],
        ...(keep ? {} : { mark: CLEAR }),
        verdict: { kind: 'return' },
        counter: false,
        comment: originComment(`${p.origin}: pass`),
      }),
    ]),
  ]);
}

export interface EndpointInput {
  readonly key: string;
  readonly pod: PodInfo;
  readonly d: Direction;
  /** The policies that select the endpoint in direction d, in pipeline order (comparePolicies). */
  readonly selecting: readonly OrderedPolicy[];
  readonly families: readonly Family[];
  readonly mergeAbove: number;
}

/** Whether every rule of the tier is a plain allow: then one merged run of them all is exact. */
function allPlainAllow(policies: readonly OrderedPolicy[], d: Direction): boolean {
  return policies.every((p) => (rulesOf(p, d) ?? []).every((r) => r.action === 'allow' && !inlineOnly(r)));
}

export function endpointDirection(input: EndpointInput): EndpointDirection {
  const { key, pod, d, selecting, families } = input;
  const tier = (t: OrderedPolicy['tier']) => selecting.filter((p) => p.tier === t);
  const [admin, namespaced, baseline] = [tier('Admin'), tier('NetworkPolicy'), tier('Baseline')];
  const merge = (xs: readonly OrderedPolicy[]) => xs.length > input.mergeAbove;
  const jumpTo = (p: OrderedPolicy) =>
    createRule({ verdict: jump(policyChainName(p.key, d, p.tier)), counter: false, comment: p.origin });
  const mergedParts: MergedRules[] = [];
  const merged = (m: MergedRules) => {
    mergedParts.push(m);
    return m.rules;
  };
  const rules: Rule[] = [];
  const tierChains: Chain[] = [];
  const enter = (chain: Chain, label: string) => {
    tierChains.push(chain);
    rules.push(createRule({ verdict: jump(chain.name), counter: false, comment: originComment(label) }));
  };
  if (admin.length > 0) {
    const name = adminTierChainName(key, d);
    const label = `admin tier ${d}: ${key}`;
    enter(
      merge(admin)
        ? createChain(name, merged(mergedTierRules(pod, d, admin, families)))
        : tierChain(name, label, admin, d, false),
      label,
    );
  }
  const baselineRules = () =>
    merge(baseline) ? merged(mergedTierRules(pod, d, baseline, families)) : baseline.map(jumpTo);
  const isolated = createRule({
    verdict: drop,
    comment: originComment(`isolated ${d}: ${key}, no policy allows`),
  });
  if (namespaced.length === 0) rules.push(...baselineRules());
  else if (!namespaced.some((p) => canPass(p, d))) {
    // The tier isolates (TIER_RULES): once a policy of it applies, Baseline is never reached.
    if (!merge(namespaced)) rules.push(...namespaced.map(jumpTo));
    else if (allPlainAllow(namespaced, d))
      rules.push(...merged(mergedEndpointRules(pod, d, namespaced, families)));
    else rules.push(...merged(mergedTierRules(pod, d, namespaced, families)));
    rules.push(isolated);
  } else {
    const name = networkPolicyTierChainName(key, d);
    const label = `policy tier ${d}: ${key}`;
    enter(
      merge(namespaced)
        ? createChain(name, [
            createRule({ mark: CLEAR, counter: false, comment: originComment(label) }),
            ...merged(mergedTierRules(pod, d, namespaced, families)),
          ])
        : tierChain(name, label, namespaced, d, true),
      label,
    );
    rules.push(
      createRule({ matches: [{ ...PASSED, set: false }], verdict: drop, comment: isolated.comment }),
      createRule({
        mark: CLEAR,
        counter: false,
        comment: originComment(`passed ${d}: ${key}, on to baseline`),
      }),
      ...baselineRules(),
    );
  }
  const jumped = [
    ...(merge(admin) ? [] : admin),
    ...(merge(namespaced) ? [] : namespaced),
    ...((namespaced.length > 0 && !namespaced.some((p) => canPass(p, d))) || merge(baseline) ? [] : baseline),
  ];
  return {
    policies: pipelineKey(selecting, d),
    sources: selecting,
    jumped: jumped.map((p) => p.key),
    chain: createChain(endpointChainName(key, d), rules),
    tierChains,
    ...(mergedParts.length === 0
      ? {}
      : {
          merged: {
            sets: mergedParts.flatMap((m) => m.sets),
            podSets: mergedParts.flatMap((m) => m.podSets),
          },
        }),
  };
}
