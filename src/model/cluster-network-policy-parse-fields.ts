// Field helpers shared by the ClusterNetworkPolicy parser's files: the CRD's limits, list fields with their
// MinItems/MaxItems, exactly-one-of objects (the CRD's Min/MaxProperties 1), objects as Go decodes them. Pure.
import { isObject, showValue } from './k8s.js';

/** The CRD's limits (MaxItems, MaxLength, Minimum/Maximum); crds.ts renders the schema from these too. */
export const CNP_LIMITS = {
  rules: 25,
  peers: 25,
  protocols: 25,
  networks: 25,
  domainNames: 25,
  ruleName: 100,
  cidrLength: 43,
  priorityMax: 1000,
} as const;

export type ItemParser<T> = (raw: unknown, path: string, problems: string[]) => T | undefined;

export const present = (v: unknown): boolean => v !== undefined && v !== null;

/** Code points, as the API server counts maxLength. */
export const lengthOf = (s: string): number => [...s].length;

/** A list item or a set field as an object; a null item decodes to the zero value {}, as Go decodes it. */
export function asObject(
  raw: unknown,
  path: string,
  problems: string[],
): Record<string, unknown> | undefined {
  const r = raw === null ? {} : raw;
  if (isObject(r)) return r;
  problems.push(`${path}: must be an object, got ${showValue(raw)}`);
  return undefined;
}

/** A list field of min..max items, each parsed; empty when absent or not a list (the problem pushed). */
export function parseList<T>(
  raw: unknown,
  path: string,
  problems: string[],
  limits: { readonly min: number; readonly max: number },
  item: ItemParser<T>,
): T[] {
  if (!present(raw)) return [];
  if (!Array.isArray(raw)) {
    problems.push(`${path}: must be a list, got ${showValue(raw)}`);
    return [];
  }
  if (raw.length < limits.min) {
    problems.push(
      `${path}: must have at least ${limits.min} item${limits.min === 1 ? '' : 's'}, got ${raw.length}`,
    );
  }
  if (raw.length > limits.max) {
    problems.push(`${path}: must have at most ${limits.max} items, got ${raw.length}`);
  }
  const out: T[] = [];
  for (const [i, x] of raw.entries()) {
    const v = item(x, `${path}[${i}]`, problems);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** The one field of `fields` that `r` sets (null counts as unset), or undefined with the problem pushed. */
export function exactlyOne(
  r: Record<string, unknown>,
  fields: readonly string[],
  path: string,
  problems: string[],
): string | undefined {
  const set = fields.filter((f) => present(r[f]));
  if (set.length === 1) return set[0];
  problems.push(`${path}: ${showValue(r)} must set exactly one of ${fields.join(', ')}`);
  return undefined;
}
