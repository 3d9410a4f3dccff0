// The CNI network config files install-cni manages in a node's CNI config dir (/etc/cni/net.d): which file is
// the primary, appending Palisade's plugin entry to its `plugins` (chained mode), removing it again, and the
// files main mode writes. Pure: no node:*, no I/O; the caller lists the dir, reads and writes. A malformed
// config is reported as an error result naming the file and the field, never rewritten; nothing here throws.

import { isObject, showValue } from '../model/k8s.js';

type Obj = Record<string, unknown>;
type Result<T> = T | { error: string };

/** A parsed config: a conflist, or a single-plugin .conf/.json (its one plugin is the whole object). */
interface Conf {
  readonly kind: 'list' | 'single';
  readonly obj: Obj;
  readonly plugins: readonly Obj[];
}

const EXTENSIONS = ['.conflist', '.conf', '.json'] as const;

function extensionOf(name: string): (typeof EXTENSIONS)[number] | undefined {
  return EXTENSIONS.find((ext) => name.endsWith(ext));
}

/** By UTF-16 code unit, like Go's sort.Strings for the ASCII names a CNI dir holds (not localeCompare). */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** CNI config file names in a dir listing that count as network configs: *.conf, *.conflist, *.json; sorted lexically (as libcni does). */
export function configFiles(names: readonly string[]): string[] {
  return names.filter((n) => extensionOf(n) !== undefined).sort(byCodeUnit);
}

/** `10-flannel.conf` -> `10-flannel.conflist`; a .conflist (or any other name) is returned as is. */
function conflistName(file: string): string {
  const ext = extensionOf(file);
  return ext === '.conf' || ext === '.json' ? file.slice(0, -ext.length) + '.conflist' : file;
}

/**
 * The primary config: `confName` (CNI_CONF_NAME) when given, else the lexically first config file that is not
 * Palisade's own main-mode file `ownFile`. A `confName` naming a .conf/.json that install-cni already converted
 * is found as its .conflist. An empty `confName` counts as not given (an empty env var).
 */
export function pickPrimary(
  names: readonly string[],
  opts: { dir: string; confName?: string; ownFile?: string },
): { file: string } | { error: string } {
  const files = configFiles(names);
  const { dir, confName, ownFile } = opts;
  if (confName) {
    const where = `CNI_CONF_NAME: ${showValue(confName)}`;
    if (confName === ownFile)
      return { error: `${where} is Palisade's own config; name the primary CNI's config` };
    if (files.includes(confName)) return { file: confName };
    if (names.includes(confName))
      return { error: `${where} is not a .conf, .conflist or .json file in ${dir}` };
    const converted = conflistName(confName);
    if (converted !== confName && files.includes(converted)) return { file: converted };
    return { error: `${where} not found in ${dir}: waiting for the primary CNI to write it` };
  }
  const file = files.find((f) => f !== ownFile);
  if (file === undefined)
    return { error: `no CNI network config in ${dir}: waiting for the primary CNI to write one` };
  return { file };
}

function stringProblem(path: string, v: unknown): string[] {
  return typeof v === 'string' ? [] : [`${path}: must be a string, got ${showValue(v)}`];
}

/** A plugin "type" names the executable: libcni rejects an empty one. */
function typeProblem(path: string, v: unknown): string[] {
  return v === '' ? [`${path}: must not be empty`] : stringProblem(path, v);
}

function pluginProblems(plugins: unknown): string[] {
  if (!Array.isArray(plugins)) return [`plugins: must be an array, got ${showValue(plugins)}`];
  if (plugins.length === 0) return ['plugins: must not be empty'];
  return plugins.flatMap((p, i) =>
    isObject(p)
      ? typeProblem(`plugins[${i}].type`, p['type'])
      : [`plugins[${i}]: must be a JSON object, got ${showValue(p)}`],
  );
}

/**
 * Parses and checks a config. `kind` comes from the file name: a .conflist is a list; a .conf/.json is a single
 * plugin unless it has "plugins" (then it is checked as a list); 'auto' decides by "plugins" alone.
 */
function parseConf(file: string, text: string, kind: 'list' | 'single' | 'auto'): Result<Conf> {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    return { error: `${file}: not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!isObject(obj)) return { error: `${file}: must be a JSON object, got ${showValue(obj)}` };
  const list = kind === 'list' || 'plugins' in obj;
  const problems = [
    ...stringProblem('cniVersion', obj['cniVersion']),
    ...stringProblem('name', obj['name']),
    ...(list ? pluginProblems(obj['plugins']) : typeProblem('type', obj['type'])),
  ];
  if (problems.length > 0) return { error: `${file}: ${problems.join('; ')}` };
  if (list) return { kind: 'list', obj, plugins: obj['plugins'] as Obj[] };
  const plugin = Object.fromEntries(Object.entries(obj).filter(([k]) => k !== 'cniVersion' && k !== 'name'));
  return { kind: 'single', obj, plugins: [plugin] };
}

function parseByName(file: string, text: string): Result<Conf> {
  const ext = extensionOf(file);
  if (ext === undefined)
    return { error: `${file}: not a CNI config file name (want .conf, .conflist or .json)` };
  return parseConf(file, text, ext === '.conflist' ? 'list' : 'single');
}

/** The conf as a conflist object with `plugins` replaced; a conflist keeps its other keys and their order. */
function withPlugins(conf: Conf, plugins: readonly Obj[]): Obj {
  if (conf.kind === 'list') return { ...conf.obj, plugins };
  return { cniVersion: conf.obj['cniVersion'], name: conf.obj['name'], plugins };
}

function render(obj: unknown): string {
  return JSON.stringify(obj, null, 2) + '\n';
}

/** Equal as JSON values: object key order ignored, array order kept. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]))
    );
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
    );
  }
  return a === b;
}

/** The entry as plain JSON data (what will be written), checked to have a non-empty string "type". */
function normaliseEntry(entry: unknown, label: string): Result<{ entry: Obj }> {
  if (!isObject(entry)) return { error: `${label}: must be a JSON object, got ${showValue(entry)}` };
  let copy: Obj;
  try {
    copy = JSON.parse(JSON.stringify(entry)) as Obj;
  } catch (err) {
    return {
      error: `${label}: not serialisable as JSON: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const problems = typeProblem(`${label}.type`, copy['type']);
  return problems.length > 0 ? { error: problems.join('; ') } : { entry: copy };
}

export interface Insertion {
  /** The file to write: the same name for a .conflist; for a .conf/.json single-plugin file, the name with its extension replaced by .conflist. */
  readonly file: string;
  /** The full new text (2-space indented JSON + trailing newline). */
  readonly text: string;
  /** When the file name changed (a .conf converted): the old file to remove after writing the new one. */
  readonly replaces?: string;
  /** True when the entry was already there with identical content (nothing to write). */
  readonly unchanged: boolean;
}

/**
 * Appends `entry` (a plugin object with a non-empty string "type") as the LAST plugin of the config `text` read
 * from `file`, after removing every earlier plugin of the same type. A single-plugin .conf/.json becomes
 * {cniVersion, name, plugins: [<it minus cniVersion and name>, entry]} in `<base>.conflist`; so does a .conf/.json
 * that already has "plugins" (runtimes read only .conflist files as lists). `unchanged` when the file keeps its
 * name and the new content equals the old as JSON. Malformed input -> { error } naming the file and the field.
 */
export function insertPlugin(
  file: string,
  text: string,
  entry: Record<string, unknown>,
): Insertion | { error: string } {
  const checked = normaliseEntry(entry, 'entry');
  if ('error' in checked) return { error: `${file}: ${checked.error}` };
  const conf = parseByName(file, text);
  if ('error' in conf) return conf;
  const ours = checked.entry;
  const out = withPlugins(conf, [...conf.plugins.filter((p) => p['type'] !== ours['type']), ours]);
  const target = conflistName(file);
  if (target !== file) return { file: target, text: render(out), replaces: file, unchanged: false };
  return { file, text: render(out), unchanged: jsonEqual(out, conf.obj) };
}

/**
 * Removes every plugin of `type` from the config (uninstall); the file keeps its name and shape. Removing the
 * only plugins left is an error: a conflist with no plugins is invalid for CNI.
 */
export function removePlugin(
  file: string,
  text: string,
  type: string,
): { text: string } | { unchanged: true } | { error: string } {
  if (type === '') return { error: `${file}: type: must not be empty` };
  const conf = parseByName(file, text);
  if ('error' in conf) return conf;
  const kept = conf.plugins.filter((p) => p['type'] !== type);
  if (kept.length === conf.plugins.length) return { unchanged: true };
  if (kept.length === 0)
    return { error: `${file}: removing the ${showValue(type)} plugin would leave no plugins` };
  // Only a list gets here: a single plugin either is of `type` (nothing left) or is not (unchanged).
  return { text: render({ ...conf.obj, plugins: kept }) };
}

/** Whether a config text has a plugin of `type` as its LAST plugin (what readiness checks). Malformed -> false. */
export function hasPluginLast(text: string, type: string): boolean {
  const conf = parseConf('', text, 'auto');
  return !('error' in conf) && conf.plugins.at(-1)?.['type'] === type;
}

/** Palisade's own conflist for main mode: {cniVersion, name, plugins: [entry]} as text. */
export function mainConflist(opts: {
  cniVersion: string;
  name: string;
  entry: Record<string, unknown>;
}): string {
  return render({ cniVersion: opts.cniVersion, name: opts.name, plugins: [opts.entry] });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Parses CNI_NETWORK_CONFIG, the plugin entry as JSON text. Each `__NAME__` for a key NAME of `vars` is replaced
 * by its value first, in one pass and verbatim (as installers' sed does), so a value put inside a JSON string
 * must not hold `"` or `\`. Unknown `__X__` placeholders are left as they are.
 */
export function parseNetworkConfigEnv(
  text: string,
  vars: Readonly<Record<string, string>>,
): { entry: Record<string, unknown> } | { error: string } {
  const keys = Object.keys(vars)
    .filter((k) => k !== '')
    .sort((a, b) => b.length - a.length);
  const pattern = new RegExp(keys.map((k) => `__${escapeRegExp(k)}__`).join('|'), 'g');
  const substituted = keys.length === 0 ? text : text.replace(pattern, (m) => vars[m.slice(2, -2)] ?? m);
  let parsed: unknown;
  try {
    parsed = JSON.parse(substituted);
  } catch (err) {
    return { error: `CNI_NETWORK_CONFIG: not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  return normaliseEntry(parsed, 'CNI_NETWORK_CONFIG');
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard padded base64 of the UTF-8 bytes of `text` (PEM is ASCII, but any text encodes correctly). */
function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const b1 = bytes[i + 1];
    const b2 = bytes[i + 2];
    const n = (bytes[i]! << 16) | ((b1 ?? 0) << 8) | (b2 ?? 0);
    out += BASE64.charAt((n >> 18) & 63) + BASE64.charAt((n >> 12) & 63);
    out += b1 === undefined ? '=' : BASE64.charAt((n >> 6) & 63);
    out += b2 === undefined ? '=' : BASE64.charAt(n & 63);
  }
  return out;
}

/**
 * A kubeconfig for the plugin, as JSON text (JSON is YAML: kubectl reads it, and the plugin reads it without a
 * YAML parser): one cluster {server, certificate-authority-data}, one user {token}, one context, set current.
 */
export function pluginKubeconfig(opts: { server: string; caPem: string; token: string }): string {
  return render({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'palisade',
        cluster: { server: opts.server, 'certificate-authority-data': base64Utf8(opts.caPem) },
      },
    ],
    users: [{ name: 'palisade-cni', user: { token: opts.token } }],
    contexts: [{ name: 'palisade', context: { cluster: 'palisade', user: 'palisade-cni' } }],
    'current-context': 'palisade',
  });
}
