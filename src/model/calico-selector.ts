// Calico's label selector expressions (GlobalNetworkPolicy `selector`, `namespaceSelector`, rule `selector` and
// `notSelector`; https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#selectors): parsed into a
// tree and evaluated against an endpoint's labels. Pure and total: parsing returns the tree or an error naming
// the position (1-based character) and what was expected there; evaluation never throws.
//
// Grammar (Calico's precedence: `!` binds tightest, then `&&`, then `||`; parentheses group):
//   expr    = and { "||" and }
//   and     = unary { "&&" unary }
//   unary   = "!" unary | "(" expr ")" | term
//   term    = "all()" | "global()" | "has(" key ")"
//           | key ("==" | "!=") string
//           | key ["not"] "in" "{" [ string { "," string } ] "}"
//           | key ("contains" | "starts with" | "ends with") string
// An empty selector is all(). Per Calico's docs, `k != "v"` and `k not in {...}` also match an endpoint without
// the label k; `global()` matches only endpoints that belong to no namespace (host endpoints).

export type Selector =
  | { readonly kind: 'all' }
  | { readonly kind: 'global' }
  | { readonly kind: 'has'; readonly key: string }
  | { readonly kind: 'eq' | 'ne'; readonly key: string; readonly value: string }
  | { readonly kind: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] }
  | { readonly kind: 'contains' | 'starts' | 'ends'; readonly key: string; readonly value: string }
  | { readonly kind: 'not'; readonly operand: Selector }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly Selector[] };

export type ParseResult =
  | { readonly ok: true; readonly selector: Selector }
  | { readonly ok: false; readonly error: string };

/** What an endpoint offers a selector: its labels, and whether it is namespaced (global() is for those that are not). */
export interface SelectorSubject {
  readonly labels: Readonly<Record<string, string>>;
  readonly namespaced: boolean;
}

class SelectorError extends Error {}

const KEY = /^[A-Za-z0-9_./-]+/;

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  private fail(expected: string): never {
    const found = this.pos >= this.text.length ? 'the end' : `"${this.text.slice(this.pos, this.pos + 10)}"`;
    throw new SelectorError(`at character ${this.pos + 1}: expected ${expected}, found ${found}`);
  }

  private skip(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  /** Consumes `word` (after spaces) when it is next; a word made of letters must end there. */
  private eat(word: string): boolean {
    this.skip();
    if (!this.text.startsWith(word, this.pos)) return false;
    const after = this.text[this.pos + word.length];
    if (/^[a-z]/.test(word) && after !== undefined && /[A-Za-z0-9_]/.test(after)) return false;
    this.pos += word.length;
    return true;
  }

  /** Consumes `word(` when it is next (a key may be named like a function: only the parenthesis tells). */
  private eatCall(word: string): boolean {
    const start = this.pos;
    if (this.eat(word) && this.eat('(')) return true;
    this.pos = start;
    return false;
  }

  private expect(word: string): void {
    if (!this.eat(word)) this.fail(`"${word}"`);
  }

  private key(): string {
    this.skip();
    const m = KEY.exec(this.text.slice(this.pos));
    if (!m) this.fail('a label key');
    this.pos += m[0].length;
    return m[0];
  }

  private string(): string {
    this.skip();
    const quote = this.text[this.pos];
    if (quote !== "'" && quote !== '"') this.fail('a quoted string');
    const end = this.text.indexOf(quote, this.pos + 1);
    if (end < 0) this.fail(`a closing ${quote}`);
    const value = this.text.slice(this.pos + 1, end);
    this.pos = end + 1;
    return value;
  }

  parse(): Selector {
    this.skip();
    if (this.pos >= this.text.length) return { kind: 'all' };
    const s = this.or();
    this.skip();
    if (this.pos < this.text.length) this.fail('"&&", "||" or the end');
    return s;
  }

  private or(): Selector {
    const operands = [this.and()];
    while (this.eat('||')) operands.push(this.and());
    return operands.length === 1 ? operands[0]! : { kind: 'or', operands };
  }

  private and(): Selector {
    const operands = [this.unary()];
    while (this.eat('&&')) operands.push(this.unary());
    return operands.length === 1 ? operands[0]! : { kind: 'and', operands };
  }

  private unary(): Selector {
    if (this.eat('!')) return { kind: 'not', operand: this.unary() };
    if (this.eat('(')) {
      const inner = this.or();
      this.expect(')');
      return inner;
    }
    return this.term();
  }

  private term(): Selector {
    if (this.eatCall('all')) {
      this.expect(')');
      return { kind: 'all' };
    }
    if (this.eatCall('global')) {
      this.expect(')');
      return { kind: 'global' };
    }
    if (this.eatCall('has')) {
      const key = this.key();
      this.expect(')');
      return { kind: 'has', key };
    }
    const key = this.key();
    if (this.eat('==')) return { kind: 'eq', key, value: this.string() };
    if (this.eat('!=')) return { kind: 'ne', key, value: this.string() };
    if (this.eat('contains')) return { kind: 'contains', key, value: this.string() };
    if (this.eat('starts')) {
      this.expect('with');
      return { kind: 'starts', key, value: this.string() };
    }
    if (this.eat('ends')) {
      this.expect('with');
      return { kind: 'ends', key, value: this.string() };
    }
    const negated = this.eat('not');
    if (this.eat('in')) return { kind: negated ? 'notin' : 'in', key, values: this.set() };
    return this.fail(
      negated ? '"in"' : '"==", "!=", "in", "not in", "contains", "starts with" or "ends with"',
    );
  }

  private set(): string[] {
    this.expect('{');
    const values: string[] = [];
    if (this.eat('}')) return values;
    do values.push(this.string());
    while (this.eat(','));
    this.expect('}');
    return values;
  }
}

/** Parses a Calico selector; the error names the character position and what was expected. */
export function parseCalicoSelector(text: string): ParseResult {
  try {
    return { ok: true, selector: new Parser(text).parse() };
  } catch (err) {
    if (err instanceof SelectorError) return { ok: false, error: err.message };
    throw err;
  }
}

/** Whether `s` selects the endpoint. */
export function calicoSelectorMatches(s: Selector, subject: SelectorSubject): boolean {
  const label = (k: string) => (Object.hasOwn(subject.labels, k) ? subject.labels[k] : undefined);
  switch (s.kind) {
    case 'all':
      return true;
    case 'global':
      return !subject.namespaced;
    case 'has':
      return label(s.key) !== undefined;
    case 'eq':
      return label(s.key) === s.value;
    case 'ne':
      return label(s.key) !== s.value;
    case 'in': {
      const v = label(s.key);
      return v !== undefined && s.values.includes(v);
    }
    case 'notin': {
      const v = label(s.key);
      return v === undefined || !s.values.includes(v);
    }
    case 'contains':
      return label(s.key)?.includes(s.value) ?? false;
    case 'starts':
      return label(s.key)?.startsWith(s.value) ?? false;
    case 'ends':
      return label(s.key)?.endsWith(s.value) ?? false;
    case 'not':
      return !calicoSelectorMatches(s.operand, subject);
    case 'and':
      return s.operands.every((o) => calicoSelectorMatches(o, subject));
    case 'or':
      return s.operands.some((o) => calicoSelectorMatches(o, subject));
  }
}

/**
 * The labels Calico's selectors see on a pod: its own, plus the namespace it is in and the orchestrator
 * (https://docs.tigera.io/calico/latest/reference/resources/networkpolicy#selectors: "projectcalico.org/namespace",
 * "projectcalico.org/orchestrator"). A pod's own label of the same key loses, as in Calico.
 */
export function calicoPodLabels(
  namespace: string,
  labels: Readonly<Record<string, string>>,
): Readonly<Record<string, string>> {
  return { ...labels, 'projectcalico.org/namespace': namespace, 'projectcalico.org/orchestrator': 'k8s' };
}

/** The labels a namespaceSelector sees on a namespace: its own and "projectcalico.org/name" (Calico's docs). */
export function calicoNamespaceLabels(
  name: string,
  labels: Readonly<Record<string, string>>,
): Readonly<Record<string, string>> {
  return { ...labels, 'projectcalico.org/name': name };
}
