// A small libcni: load a node's network list, run its plugins the way a container runtime does (ADD in order
// with prevResult chaining, DEL in reverse, results cached on disk), and surface plugin errors as typed errors.
// The lab, the integration tests and the benchmark all go through this, so the plugin never gets special care.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, type Runner } from '../dataplane/runner.js';

export interface NetworkList {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly Record<string, unknown>[];
  /** Where it was read from. */
  readonly file: string;
}

export interface RuntimeConf {
  readonly containerID: string;
  /** Empty string = no netns (DEL after the task exited). */
  readonly netns: string;
  readonly ifname: string;
  readonly args?: Readonly<Record<string, string>>;
  /** Directories searched for plugin executables (CNI_PATH). */
  readonly binDirs: readonly string[];
  /** Run plugins inside this network namespace (the node's), as a runtime on that node would. */
  readonly hostNetns?: string;
  /** Where ADD results are cached for DEL and CHECK (libcni: /var/lib/cni/results). */
  readonly cacheDir: string;
  readonly env?: NodeJS.ProcessEnv;
}

export class PluginError extends Error {
  override readonly name = 'PluginError';
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly code: number,
    readonly msg: string,
    readonly details: string,
    readonly stderr: string,
  ) {
    super(`${plugin} ${command} failed: [${code}] ${msg}${details ? ` (${details})` : ''}`);
  }
}

/** The lexically first .conflist/.conf/.json in a CNI config dir, a single .conf wrapped as a list. */
export function loadNetworkList(confDir: string): NetworkList {
  const files = readdirSync(confDir)
    .filter((f) => /\.(conflist|conf|json)$/.test(f))
    .sort();
  if (files.length === 0) throw new Error(`no CNI network config in ${confDir}`);
  const file = join(confDir, files[0]!);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (Array.isArray(raw.plugins)) {
    return { cniVersion: String(raw.cniVersion), name: String(raw.name), plugins: raw.plugins, file };
  }
  const { cniVersion, name, ...plugin } = raw;
  return { cniVersion: String(cniVersion), name: String(name), plugins: [{ ...plugin }], file };
}

function findPlugin(type: string, binDirs: readonly string[]): string {
  for (const dir of binDirs) {
    const p = join(dir, type);
    if (existsSync(p)) return p;
  }
  throw new Error(`CNI plugin "${type}" not found in ${binDirs.join(':')}`);
}

function cniArgs(args: Readonly<Record<string, string>> | undefined): string {
  return Object.entries(args ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
}

/** Executes one plugin with the SPEC's environment and stdin; returns its parsed stdout (or undefined). */
export async function execPlugin(
  runner: Runner,
  opts: { command: string; conf: Record<string, unknown>; rt: RuntimeConf },
): Promise<Record<string, unknown> | undefined> {
  const type = String(opts.conf.type);
  const path = findPlugin(type, opts.rt.binDirs);
  const env: NodeJS.ProcessEnv = {
    ...(opts.rt.env ?? process.env),
    CNI_COMMAND: opts.command,
    CNI_CONTAINERID: opts.rt.containerID,
    CNI_NETNS: opts.rt.netns,
    CNI_IFNAME: opts.rt.ifname,
    CNI_ARGS: cniArgs(opts.rt.args),
    CNI_PATH: opts.rt.binDirs.join(':'),
  };
  try {
    const { stdout } = await runner.run([path], {
      input: JSON.stringify(opts.conf),
      env,
      netns: opts.rt.hostNetns,
    });
    return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    let parsed: { code?: number; msg?: string; details?: string } = {};
    try {
      parsed = JSON.parse(err.stdout) as typeof parsed;
    } catch {
      parsed = { msg: `plugin exited ${err.exitCode} without an error document` };
    }
    throw new PluginError(
      type,
      opts.command,
      parsed.code ?? 999,
      parsed.msg ?? '',
      parsed.details ?? '',
      err.stderr,
    );
  }
}

function pluginConf(list: NetworkList, plugin: Record<string, unknown>, extra: Record<string, unknown>) {
  return { ...plugin, cniVersion: list.cniVersion, name: list.name, ...extra };
}

function cacheFile(list: NetworkList, rt: RuntimeConf): string {
  return join(rt.cacheDir, `${list.name}-${rt.containerID}-${rt.ifname}`);
}

export function cachedResult(list: NetworkList, rt: RuntimeConf): Record<string, unknown> | undefined {
  const f = cacheFile(list, rt);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>) : undefined;
}

/** ADD through every plugin in order, each seeing the previous result; caches and returns the final result. */
export async function addNetworkList(runner: Runner, list: NetworkList, rt: RuntimeConf) {
  let prev: Record<string, unknown> | undefined;
  for (const plugin of list.plugins) {
    const conf = pluginConf(list, plugin, prev ? { prevResult: prev } : {});
    prev = await execPlugin(runner, { command: 'ADD', conf, rt });
  }
  mkdirSync(rt.cacheDir, { recursive: true });
  const f = cacheFile(list, rt);
  writeFileSync(`${f}.tmp`, JSON.stringify(prev ?? {}));
  renameSync(`${f}.tmp`, f);
  return prev ?? {};
}

/** DEL through every plugin in reverse with the cached result as prevResult; drops the cache entry. */
export async function delNetworkList(runner: Runner, list: NetworkList, rt: RuntimeConf): Promise<void> {
  const prev = cachedResult(list, rt);
  for (const plugin of [...list.plugins].reverse()) {
    await execPlugin(runner, {
      command: 'DEL',
      conf: pluginConf(list, plugin, prev ? { prevResult: prev } : {}),
      rt,
    });
  }
  rmSync(cacheFile(list, rt), { force: true });
}

export async function checkNetworkList(runner: Runner, list: NetworkList, rt: RuntimeConf): Promise<void> {
  const prev = cachedResult(list, rt);
  if (!prev) throw new Error(`no cached ADD result for ${rt.containerID}/${rt.ifname}`);
  for (const plugin of list.plugins) {
    await execPlugin(runner, { command: 'CHECK', conf: pluginConf(list, plugin, { prevResult: prev }), rt });
  }
}

/** GC with the attachments still valid, as libcni sends it (both spellings of the key). */
export async function gcNetworkList(
  runner: Runner,
  list: NetworkList,
  rt: Pick<RuntimeConf, 'binDirs' | 'hostNetns' | 'env'>,
  valid: readonly { containerID: string; ifname: string }[],
): Promise<void> {
  const full: RuntimeConf = { ...rt, containerID: '', netns: '', ifname: '', cacheDir: '' };
  for (const plugin of list.plugins) {
    const extra = { 'cni.dev/valid-attachments': valid, 'cni.dev/attachments': valid };
    await execPlugin(runner, { command: 'GC', conf: pluginConf(list, plugin, extra), rt: full });
  }
}
