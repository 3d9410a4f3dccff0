// For tests: a small validator of the OpenAPI subset our CRD schemas use (types, unknown fields and
// x-kubernetes-preserve-unknown-fields, required, enums, ranges, lengths, patterns, list sizes, sets and maps),
// with the CEL rules judged by an oracle the test supplies, so that each rule is checked against code written
// independently of its text. Values as the API server sees them after decoding: null is absent.
type Schema = Record<string, unknown>;
type Obj = Record<string, unknown>;

/** Judges one CEL rule on a value; throws on a rule it does not know (a new rule comes with its oracle). */
export type CelOracle = (rule: string, self: unknown) => boolean;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function validateObject(s: Schema, v: Obj, path: string, out: string[], cel: CelOracle): void {
  const props = (s.properties ?? {}) as Record<string, Schema>;
  for (const [k, x] of Object.entries(v)) {
    if (x === null) continue;
    if (props[k]) validate(props[k], x, `${path}.${k}`, out, cel);
    else if (s.additionalProperties) validate(s.additionalProperties as Schema, x, `${path}.${k}`, out, cel);
    else if (s.properties && !s['x-kubernetes-preserve-unknown-fields'])
      out.push(`${path}.${k}: unknown field`);
  }
  for (const r of (s.required ?? []) as string[]) if (v[r] == null) out.push(`${path}.${r}: required`);
}

function validateArray(s: Schema, v: unknown[], path: string, out: string[], cel: CelOracle): void {
  if (s.minItems !== undefined && v.length < (s.minItems as number)) out.push(`${path}: too few`);
  if (s.maxItems !== undefined && v.length > (s.maxItems as number)) out.push(`${path}: too many`);
  const listType = s['x-kubernetes-list-type'];
  const keyOf = (x: unknown) =>
    listType === 'map'
      ? JSON.stringify(((s['x-kubernetes-list-map-keys'] ?? []) as string[]).map((k) => (x as Obj)?.[k]))
      : JSON.stringify(x);
  if ((listType === 'set' || listType === 'map') && new Set(v.map(keyOf)).size < v.length) {
    out.push(`${path}: duplicate`);
  }
  for (const [i, x] of v.entries()) validate(s.items as Schema, x ?? {}, `${path}[${i}]`, out, cel);
}

function validateScalar(s: Schema, v: unknown, path: string, out: string[]): void {
  if (s['x-kubernetes-int-or-string'] && typeof v !== 'string' && !Number.isInteger(v))
    out.push(`${path}: not an integer or string`);
  if (s.type === 'integer' && !(typeof v === 'number' && Number.isInteger(v)))
    out.push(`${path}: not an integer`);
  if (s.type === 'number' && typeof v !== 'number') out.push(`${path}: not a number`);
  if (s.type === 'boolean' && typeof v !== 'boolean') out.push(`${path}: not a boolean`);
  if (s.type === 'string' && typeof v !== 'string') out.push(`${path}: not a string`);
  if (
    typeof v === 'number' &&
    (v < ((s.minimum as number) ?? -Infinity) || v > ((s.maximum as number) ?? Infinity))
  ) {
    out.push(`${path}: out of range`);
  }
  if (typeof v !== 'string') return;
  if (s.maxLength !== undefined && [...v].length > (s.maxLength as number)) out.push(`${path}: too long`);
  if (s.minLength !== undefined && [...v].length < (s.minLength as number)) out.push(`${path}: too short`);
  if (s.pattern !== undefined && !new RegExp(s.pattern as string).test(v)) out.push(`${path}: pattern`);
}

/** Problems of `v` against `s`, each `path: what` (a failed CEL rule: `path: <its rule text>`). */
export function validate(s: Schema, v: unknown, path: string, out: string[], cel: CelOracle): void {
  const before = out.length;
  if (s.type === 'object') {
    if (!isObj(v)) out.push(`${path}: not an object`);
    else validateObject(s, v, path, out, cel);
  } else if (s.type === 'array') {
    if (!Array.isArray(v)) out.push(`${path}: not a list`);
    else validateArray(s, v, path, out, cel);
  } else validateScalar(s, v, path, out);
  if (s.enum && !(s.enum as unknown[]).includes(v)) out.push(`${path}: not in enum`);
  if (out.length > before) return; // the API server runs CEL only on values that pass the schema
  for (const r of (s['x-kubernetes-validations'] ?? []) as { rule: string }[]) {
    if (!cel(r.rule, v)) out.push(`${path}: ${r.rule}`);
  }
}
