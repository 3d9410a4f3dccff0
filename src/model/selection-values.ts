// How chained-mode selection reads label and annotation values: on/off words and port lists. One source for
// both sides of a contract: src/chained/selection.ts decides with these, and the pod model (cluster.ts
// workloadOf) uses them to know which long annotation values it may leave out without changing a decision.
// Pure.

/**
 * On/off words, in pairs, compared trimmed and in any case: the namespace label turns redirection on with an
 * on word; the injection annotation turns it off with an off word.
 */
export const SWITCH_WORDS: readonly (readonly [on: string, off: string])[] = [
  ['true', 'false'],
  ['enabled', 'disabled'],
  ['yes', 'no'],
  ['on', 'off'],
  ['1', '0'],
];
export const ON_WORDS: readonly string[] = SWITCH_WORDS.map(([on]) => on);
export const OFF_WORDS: readonly string[] = SWITCH_WORDS.map(([, off]) => off);

const LONGEST_SWITCH_WORD = Math.max(...[...ON_WORDS, ...OFF_WORDS].map((w) => w.length));

/** 'on', 'off', or undefined for a value that is neither (compared trimmed and case-insensitively). */
export function switchValue(value: string): 'on' | 'off' | undefined {
  const trimmed = value.trim();
  if (trimmed.length > LONGEST_SWITCH_WORD) return undefined;
  const v = trimmed.toLowerCase();
  if (ON_WORDS.includes(v)) return 'on';
  if (OFF_WORDS.includes(v)) return 'off';
  return undefined;
}

/** "80, 443,80" → [80, 443]; or the first item that is not a port 1-65535. */
export function parsePortList(text: string): { ports: number[] } | { bad: string } {
  const ports = new Set<number>();
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const n = /^[0-9]{1,5}$/.test(item) ? Number(item) : Number.NaN;
    if (!(n >= 1 && n <= 65535)) return { bad: item };
    ports.add(n);
  }
  return { ports: [...ports].sort((a, b) => a - b) };
}

/** Annotation values up to this length are always kept whole in the pod model. */
export const MAX_ANNOTATION_VALUE = 1024;

/**
 * Whether the pod model may leave out this annotation value (keeping its key, with null): only a long value
 * that no selection rule could read differently. Selection reads annotations three ways, and each stays exact:
 * - presence (the status annotation): the key is always kept;
 * - an on/off word (the injection annotation): a value that is one is never left out, so a left-out value is
 *   exactly "not an on/off value";
 * - a port list (the ports annotation): a value that is a valid list is never left out, however long, so a
 *   left-out value is exactly "present and not a port list", which selection reports as invalid.
 * The test is on the value, not the key, so it holds whatever keys the plugin's profile names: the agent needs
 * not know the plugin's config (a conflist can override every key). A rule that reads an annotation another
 * way must extend this test.
 */
export function mayLeaveOutValue(value: string): boolean {
  if (value.length <= MAX_ANNOTATION_VALUE || switchValue(value) !== undefined) return false;
  // A port list has only digits, commas and white space (\s is exactly what trim() removes): most long values
  // fail this at their first characters, before any split.
  return !(PORT_LIST_CHARS.test(value) && 'ports' in parsePortList(value));
}

const PORT_LIST_CHARS = /^[\s0-9,]*$/;
