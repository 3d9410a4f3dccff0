// One host endpoint's chain per kind of policy and direction (host-chains.ts writes the base chains that
// dispatch to them): which GlobalNetworkPolicies select the endpoint, in order, and what happens when none
// decides. Pure. The semantics, with Calico's references, are in host-chains.ts's header.
import {
  accept,
  type Chain,
  createChain,
  createRule,
  drop,
  jump,
  type Match,
  type Rule,
  type Verdict,
} from '../ir/ir.js';
import { calicoSelectorMatches } from '../model/calico-selector.js';
import type { Failsafes } from '../model/failsafe.js';
import { DEFAULT_ALLOW_PROFILE, type HostEndpoint } from '../model/host-endpoint.js';
import { fnv1a64 } from '../util/hash.js';
import { type Direction, originComment, PASS_MARK, policyChainName } from './names.js';
import { type OrderedPolicy, rulesOf } from './ordered.js';

/** How a policy applies to a host endpoint; each kind has its own hook. */
export type HostKind = 'normal' | 'forward' | 'preDNAT' | 'untracked';

export interface HostInput {
  /** This node's host endpoints. */
  readonly hostEndpoints: readonly HostEndpoint[];
  /** Every policy that can select a host endpoint (those with a Calico subject), in pipeline order. */
  readonly policies: readonly OrderedPolicy[];
  readonly failsafes: Failsafes;
  /** The host-side interfaces of this node's pods. */
  readonly podInterfaces: readonly string[];
}

const SHORT: Readonly<Record<Direction, string>> = { ingress: 'in', egress: 'eg' };
const KIND_LETTER: Readonly<Record<HostKind, string>> = {
  normal: 'n',
  forward: 'f',
  preDNAT: 'p',
  untracked: 'u',
};

export function hostEndpointChainName(hepKey: string, kind: HostKind, d: Direction): string {
  return `h${KIND_LETTER[kind]}_${fnv1a64(hepKey).slice(0, 12)}_${SHORT[d]}`;
}

/** Whether a policy applies to the host endpoint in direction d (GlobalNetworkPolicy selectors on its labels). */
export function hostSelects(p: OrderedPolicy, hep: HostEndpoint, d: Direction): boolean {
  const calico = p.subject.calico;
  if (!calico || rulesOf(p, d) === undefined) return false;
  const subject = { labels: hep.labels, namespaced: false };
  const ns = calico.namespaceSelector?.selector;
  if (ns && !calicoSelectorMatches(ns, { labels: {}, namespaced: false })) return false;
  return !calico.selector || calicoSelectorMatches(calico.selector.selector, subject);
}

export function kindOf(p: OrderedPolicy): HostKind {
  if (p.host?.doNotTrack) return 'untracked';
  if (p.host?.preDNAT) return 'preDNAT';
  return 'normal';
}

/** The policies of one kind that apply to the endpoint in direction d, in order. */
export function hostPolicies(
  input: HostInput,
  hep: HostEndpoint,
  kind: HostKind,
  d: Direction,
): OrderedPolicy[] {
  return input.policies.filter((p) => {
    if (!hostSelects(p, hep, d)) return false;
    if (kind === 'forward') return kindOf(p) === 'normal' && p.host?.applyOnForward === true;
    return kindOf(p) === kind;
  });
}

const CLEAR = { bit: PASS_MARK, set: false } as const;
const PASSED: Match = { kind: 'mark-bit', bit: PASS_MARK, set: true };

/**
 * One endpoint's chain for a kind and direction: each policy by order (a Pass, seen on the mark, ends the tier
 * with `passed`), then `tail` when none decided.
 */
function endpointChain(
  name: string,
  label: string,
  policies: readonly OrderedPolicy[],
  d: Direction,
  verdicts: { passed: Verdict; tail: Verdict; tailComment: string },
): Chain {
  const rules: Rule[] = [createRule({ mark: CLEAR, counter: false, comment: originComment(label) })];
  for (const p of policies) {
    rules.push(
      createRule({ verdict: jump(policyChainName(p.key, d, p.tier)), counter: false, comment: p.origin }),
    );
    if ((rulesOf(p, d) ?? []).some((r) => r.action === 'pass'))
      rules.push(
        createRule({
          matches: [PASSED],
          mark: CLEAR,
          verdict: verdicts.passed,
          comment: originComment(`${p.origin}: pass`),
        }),
      );
  }
  rules.push(createRule({ verdict: verdicts.tail, comment: originComment(verdicts.tailComment) }));
  return createChain(name, rules);
}

/** A host endpoint and its key, as the node compiler assigned it an interface. */
export interface Assigned {
  readonly hep: HostEndpoint;
  readonly key: string;
}

/** The chain of one endpoint, kind and direction; undefined when it would only let everything go on. */
export function hostChain(
  input: HostInput,
  a: Assigned,
  kind: HostKind,
  d: Direction,
): { chain: Chain; policies: string[] } | undefined {
  const policies = hostPolicies(input, a.hep, kind, d);
  const name = hostEndpointChainName(a.key, kind, d);
  const label = `${a.key} ${kind} ${d}`;
  const keys = policies.map((p) => p.key);
  if (kind === 'normal') {
    const open = a.hep.profiles.includes(DEFAULT_ALLOW_PROFILE);
    const profile = open ? accept : drop;
    const why = `${a.key}: ${open ? `${DEFAULT_ALLOW_PROFILE}` : 'no policy allows (host endpoint default)'} ${d}`;
    if (policies.length === 0)
      return {
        chain: createChain(name, [createRule({ verdict: profile, comment: originComment(why) })]),
        policies: keys,
      };
    const tail = `${a.key}: selected, no policy allows ${d}`;
    return {
      chain: endpointChain(name, label, policies, d, { passed: profile, tail: drop, tailComment: tail }),
      policies: keys,
    };
  }
  if (policies.length === 0) return undefined;
  const tail = kind === 'forward' ? drop : accept;
  const tailComment =
    kind === 'forward'
      ? `${a.key}: selected, no policy allows forwarded ${d}`
      : `${a.key}: ${kind} ${d}: no rule decided, on`;
  return {
    chain: endpointChain(name, label, policies, d, { passed: accept, tail, tailComment }),
    policies: keys,
  };
}
