// metav1.LabelSelector: validation as the API server does it (apimachinery ValidateLabelSelector, with strict
// field validation), matching with labels.Selector semantics, and kubectl's text form. Pure.
import { isLabelKey, isLabelValue, isObject, showValue, unknownFieldProblems } from './k8s.js';
import type { LabelSelector, LabelSelectorRequirement, SelectorOperator } from './network-policy.js';

export const SELECTOR_OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

type Labels = Readonly<Record<string, string>>;

function parseMatchLabels(raw: unknown, path: string, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined || raw === null) return out;
  if (!isObject(raw)) {
    problems.push(`${path}: must be a map of label keys to values, got ${showValue(raw)}`);
    return out;
  }
  for (const [k, v] of Object.entries(raw)) {
    if (!isLabelKey(k)) problems.push(`${path}: key ${showValue(k)} is not a valid label key`);
    if (typeof v !== 'string' || !isLabelValue(v)) {
      problems.push(`${path}[${showValue(k)}]: value ${showValue(v)} is not a valid label value`);
    } else if (isLabelKey(k)) {
      out[k] = v;
    }
  }
  return out;
}

function parseValues(raw: unknown, path: string, problems: string[]): string[] | undefined {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    problems.push(`${path}: must be a list of label values, got ${showValue(raw)}`);
    return undefined;
  }
  const out: string[] = [];
  for (const [i, v] of raw.entries()) {
    if (typeof v === 'string' && isLabelValue(v)) out.push(v);
    else problems.push(`${path}[${i}]: ${showValue(v)} is not a valid label value`);
  }
  return out;
}

function parseRequirement(
  r: unknown,
  path: string,
  problems: string[],
): LabelSelectorRequirement | undefined {
  if (!isObject(r)) {
    problems.push(`${path}: must be an object with key and operator, got ${showValue(r)}`);
    return undefined;
  }
  problems.push(...unknownFieldProblems(r, ['key', 'operator', 'values'], path));
  const { key, operator } = r;
  if (typeof key !== 'string' || !isLabelKey(key)) {
    problems.push(`${path}.key: ${showValue(key)} is not a valid label key`);
  }
  const op = SELECTOR_OPERATORS.find((o) => o === operator);
  if (op === undefined) {
    problems.push(`${path}.operator: ${showValue(operator)} is not one of ${SELECTOR_OPERATORS.join(', ')}`);
  }
  const values = parseValues(r.values, `${path}.values`, problems);
  if (op !== undefined && values !== undefined) {
    const needsValues = op === 'In' || op === 'NotIn';
    if (needsValues && values.length === 0) {
      problems.push(`${path}.values: ${showValue(r.values)} must be non-empty when operator is ${op}`);
    }
    if (!needsValues && Array.isArray(r.values) && r.values.length > 0) {
      problems.push(`${path}.values: ${showValue(r.values)} must be empty when operator is ${op}`);
    }
  }
  return { key: String(key), operator: op ?? 'In', values: values ?? [] };
}

/**
 * Validates a metav1.LabelSelector at `path`, pushing every problem (each naming the field and the value).
 * Absent or null gives undefined without a problem (the caller decides what absent means); so does a selector
 * with problems. Unknown fields are problems, so `podSelector: {app: web}` is not silently "everything".
 */
export function parseLabelSelector(
  raw: unknown,
  path: string,
  problems: string[],
): LabelSelector | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) {
    problems.push(`${path}: must be a label selector object, got ${showValue(raw)}`);
    return undefined;
  }
  const local = unknownFieldProblems(raw, ['matchLabels', 'matchExpressions'], path);
  const matchLabels = parseMatchLabels(raw.matchLabels, `${path}.matchLabels`, local);
  const matchExpressions: LabelSelectorRequirement[] = [];
  const exprs = raw.matchExpressions;
  if (Array.isArray(exprs)) {
    for (const [i, e] of exprs.entries()) {
      const req = parseRequirement(e, `${path}.matchExpressions[${i}]`, local);
      if (req) matchExpressions.push(req);
    }
  } else if (exprs !== undefined && exprs !== null) {
    local.push(`${path}.matchExpressions: must be a list, got ${showValue(exprs)}`);
  }
  problems.push(...local);
  return local.length > 0 ? undefined : { matchLabels, matchExpressions };
}

/** The label's value, or undefined when absent (own keys only: "constructor" is not a label). */
function labelValue(labels: Labels, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

/**
 * One requirement, as labels.Requirement.Matches. A requirement the API server would reject (In/NotIn without
 * values, Exists/DoesNotExist with values, an unknown operator) matches nothing, as apimachinery refuses to
 * build such a selector.
 */
function requirementMatches(req: LabelSelectorRequirement, labels: Labels): boolean {
  const value = labelValue(labels, req.key);
  switch (req.operator) {
    case 'In':
      return req.values.length > 0 && value !== undefined && req.values.includes(value);
    case 'NotIn':
      return req.values.length > 0 && (value === undefined || !req.values.includes(value));
    case 'Exists':
      return req.values.length === 0 && value !== undefined;
    case 'DoesNotExist':
      return req.values.length === 0 && value === undefined;
    default:
      return false;
  }
}

/** Every matchLabels pair and every expression must hold; the empty selector matches everything. */
export function selectorMatches(sel: LabelSelector, labels: Labels): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) {
    if (labelValue(labels, k) !== v) return false;
  }
  return sel.matchExpressions.every((req) => requirementMatches(req, labels));
}

function requirementText(req: LabelSelectorRequirement): string {
  const values = [...new Set(req.values)].sort().join(',');
  switch (req.operator) {
    case 'In':
      return `${req.key} in (${values})`;
    case 'NotIn':
      return `${req.key} notin (${values})`;
    case 'Exists':
      return req.key;
    case 'DoesNotExist':
      return `!${req.key}`;
    default:
      return `${req.key} ?${String(req.operator)} (${values})`;
  }
}

/**
 * kubectl's text for a selector (metav1.FormatLabelSelector): `app=web,tier in (a,b),!legacy`, requirements
 * sorted by key (then by text), values sorted and de-duplicated; `<none>` for the empty selector, which
 * selects everything.
 */
export function selectorToString(sel: LabelSelector): string {
  const parts = [
    ...Object.entries(sel.matchLabels).map(([key, v]) => ({ key, text: `${key}=${v}` })),
    ...sel.matchExpressions.map((req) => ({ key: req.key, text: requirementText(req) })),
  ];
  if (parts.length === 0) return '<none>';
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  parts.sort((a, b) => cmp(a.key, b.key) || cmp(a.text, b.text));
  return parts.map((p) => p.text).join(',');
}
