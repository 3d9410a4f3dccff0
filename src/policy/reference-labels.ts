// The reference evaluator's own label-selector matcher: a second, deliberately independent reading of
// metav1.LabelSelector (k8s.io/apimachinery labels.Selector semantics). Pure and total.
//
//   matchLabels k: v        the label k is present and equals v
//   In [v...]               the label is present and its value is one of the values
//   NotIn [v...]            the label is absent, or present with a value that is none of the values
//   Exists                  the label is present
//   DoesNotExist            the label is absent
// Every matchLabels pair and every expression must hold; the empty selector selects everything.
//
// Out of contract (the API server rejects these, and apimachinery refuses to build such a selector): In/NotIn
// with no values, Exists/DoesNotExist with values, an unknown operator. Such a requirement matches nothing.
import type { Selector } from '../model/calico-selector.js';
import type { LabelSelector, LabelSelectorRequirement } from '../model/network-policy.js';

type Labels = Readonly<Record<string, string>>;

/** The label's value, or undefined when absent (own keys only: "constructor" is not a label). */
function labelValue(labels: Labels, key: string): string | undefined {
  if (!Object.hasOwn(labels, key)) return undefined;
  const v = labels[key];
  return typeof v === 'string' ? v : undefined;
}

function requirementHolds(req: LabelSelectorRequirement, labels: Labels): boolean {
  const value = labelValue(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return values.length > 0 && value !== undefined && values.includes(value);
    case 'NotIn':
      return values.length > 0 && (value === undefined || !values.includes(value));
    case 'Exists':
      return values.length === 0 && value !== undefined;
    case 'DoesNotExist':
      return values.length === 0 && value === undefined;
    default:
      return false;
  }
}

/** Whether `labels` satisfy `sel`. */
export function referenceSelectorMatches(sel: LabelSelector, labels: Labels): boolean {
  for (const [key, want] of Object.entries(sel.matchLabels ?? {})) {
    if (labelValue(labels, key) !== want) return false;
  }
  return (sel.matchExpressions ?? []).every((req) => requirementHolds(req, labels));
}

/**
 * The reference's own reading of a parsed Calico selector (calico-selector.ts parses; this evaluates apart from
 * the compiler's evaluator): `k != v` and `k not in {...}` hold for an endpoint without k (Calico's docs);
 * `global()` holds only for an endpoint outside every namespace (a host endpoint).
 */
export function referenceCalicoMatches(s: Selector, labels: Labels, namespaced: boolean): boolean {
  const value = labelValue(labels, 'key' in s ? s.key : '');
  if (s.kind === 'not') return !referenceCalicoMatches(s.operand, labels, namespaced);
  if (s.kind === 'and') return s.operands.every((o) => referenceCalicoMatches(o, labels, namespaced));
  if (s.kind === 'or') return s.operands.some((o) => referenceCalicoMatches(o, labels, namespaced));
  if (s.kind === 'all') return true;
  if (s.kind === 'global') return !namespaced;
  if (value === undefined) return s.kind === 'ne' || s.kind === 'notin';
  if (s.kind === 'has') return true;
  if (s.kind === 'eq' || s.kind === 'ne') return (value === s.value) === (s.kind === 'eq');
  if (s.kind === 'in' || s.kind === 'notin') return s.values.includes(value) === (s.kind === 'in');
  if (s.kind === 'contains') return value.indexOf(s.value) >= 0;
  if (s.kind === 'starts') return value.slice(0, s.value.length) === s.value;
  if (s.kind === 'ends')
    return s.value.length <= value.length && value.slice(value.length - s.value.length) === s.value;
  return false;
}
