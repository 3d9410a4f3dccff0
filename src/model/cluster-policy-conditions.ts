// A ClusterNetworkPolicy's status.conditions (metav1.Condition) as Palisade reports them. Pure: the conditions
// depend only on the parsed policy and its generation, never on a node, so every agent computes the same ones
// and any of them may write them (src/datastore/kube-cluster-policy-status.ts).
//
// - Accepted: True/Accepted, or False/InvalidSpec with every problem (each names the field and the value).
// - Programmed: True/Programmed; True/PartiallyProgrammed listing the valid parts Palisade does not enforce
//   (domainNames peers); False/Invalid when the policy has problems (it is enforced fail-closed, deny-only, not
//   as written).
import type { ClusterNetworkPolicy } from './cluster-network-policy.js';
import { isObject } from './k8s.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
}

/** A condition as decided, before it meets the stored one (which says when its status last changed). */
export type DesiredCondition = Omit<Condition, 'lastTransitionTime'>;

export const ACCEPTED = 'Accepted';
export const PROGRAMMED = 'Programmed';

/** The CRD's limit on a condition's message (metav1.Condition). */
const MAX_MESSAGE = 32_768;

function bounded(text: string): string {
  return text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 3)}...`;
}

/** The conditions of `cnp` at metadata.generation `generation` (undefined: not known, none is reported). */
export function clusterPolicyConditions(
  cnp: Pick<ClusterNetworkPolicy, 'problems' | 'notProgrammed'>,
  generation: number | undefined,
): DesiredCondition[] {
  const observed = generation === undefined ? {} : { observedGeneration: generation };
  const n = cnp.problems.length;
  if (n > 0) {
    return [
      {
        type: ACCEPTED,
        status: 'False',
        reason: 'InvalidSpec',
        message: bounded(`${n} problem${n === 1 ? '' : 's'}: ${cnp.problems.join('; ')}`),
        ...observed,
      },
      {
        type: PROGRAMMED,
        status: 'False',
        reason: 'Invalid',
        message:
          'Not programmed as written: the policy fails closed and only denies (Accept rules dropped, Pass ' +
          'rules deny, rules that did not parse deny every peer); see the Accepted condition',
        ...observed,
      },
    ];
  }
  const accepted: DesiredCondition = {
    type: ACCEPTED,
    status: 'True',
    reason: 'Accepted',
    message: 'The policy is valid',
    ...observed,
  };
  const partial = cnp.notProgrammed;
  if (partial.length > 0) {
    return [
      accepted,
      {
        type: PROGRAMMED,
        status: 'True',
        reason: 'PartiallyProgrammed',
        message: bounded(`Programmed except: ${partial.join('; ')}`),
        ...observed,
      },
    ];
  }
  return [
    accepted,
    { type: PROGRAMMED, status: 'True', reason: 'Programmed', message: 'Programmed as written', ...observed },
  ];
}

function sameCondition(a: DesiredCondition, b: Readonly<Record<string, unknown>>): boolean {
  return (
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.observedGeneration === b.observedGeneration
  );
}

/**
 * status.conditions with `desired` set, as apimachinery's meta.SetStatusCondition does: a condition whose
 * status, reason, message and observedGeneration are unchanged is kept as stored; a changed one keeps its
 * lastTransitionTime when its status is unchanged, else gets `now`. Conditions of other types (another
 * controller's) stay as they are, in place. Undefined when nothing changes: then there is nothing to write.
 */
export function mergeConditions(
  current: unknown,
  desired: readonly DesiredCondition[],
  now: string,
): unknown[] | undefined {
  const stored = Array.isArray(current) ? [...(current as unknown[])] : [];
  let changed = !Array.isArray(current) && current !== undefined && current !== null;
  for (const d of desired) {
    const i = stored.findIndex((c) => isObject(c) && c.type === d.type);
    const old = i >= 0 ? (stored[i] as Record<string, unknown>) : undefined;
    if (old && sameCondition(d, old) && typeof old.lastTransitionTime === 'string') continue;
    changed = true;
    const since =
      old && old.status === d.status && typeof old.lastTransitionTime === 'string'
        ? old.lastTransitionTime
        : now;
    const next: Condition = { ...d, lastTransitionTime: since };
    if (i >= 0) stored[i] = next;
    else stored.push(next);
  }
  return changed ? stored : undefined;
}

/** A condition of `conditions` by type (a stored list, as the API returns it). */
export function findCondition(
  conditions: unknown,
  type: string,
): Readonly<Record<string, unknown>> | undefined {
  if (!Array.isArray(conditions)) return undefined;
  return conditions.find((c): c is Record<string, unknown> => isObject(c) && c.type === type);
}
