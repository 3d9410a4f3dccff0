// `palisade install-cni`, a container of the DaemonSet: puts the plugin on the host and keeps its config there.
//   - copies the native shim (as palisade-cni), the Node plugin (palisade-cni-node) and a Node runtime
//     (palisade-node, so the host needs none) into the host's CNI bin dir;
//   - main mode: writes Palisade's own conflist; chained mode: appends Palisade's entry to the primary CNI's
//     config (pickPrimary: CNI_CONF_NAME or the lexically first) and puts it back whenever the primary CNI
//     rewrites its file (a watch on the dir, and a check every interval);
//   - writes a kubeconfig for its service account (for the plugin's API fallback) and rewrites it when the token
//     rotates;
//   - is ready only while its config is in place; on stop removes its entry and its files.
// Every write is a temp file renamed into place. A malformed config is reported (log, readiness), never
// overwritten. The pure decisions are in cni-conf.ts.
import { existsSync, type FSWatcher, readdirSync, readFileSync, rmSync, watch } from 'node:fs';
import { join } from 'node:path';
import { copyFileAtomic, writeFileAtomic } from '../util/atomic-file.js';
import type { Logger } from '../util/log.js';
import {
  hasPluginLast,
  insertPlugin,
  mainConflist,
  pickPrimary,
  pluginKubeconfig,
  removePlugin,
} from './cni-conf.js';

export interface InstallCniOptions {
  readonly mode: 'main' | 'chained';
  /** The host's CNI dirs as mounted in this container. */
  readonly binDir: string;
  readonly netDir: string;
  /** The net dir as the host (and so the plugin) sees it: where the kubeconfig is for the plugin. */
  readonly hostNetDir: string;
  /** CNI_CONF_NAME: the primary config's file name (chained mode). */
  readonly confName?: string;
  /** The plugin entry (chained: appended to the primary's plugins; main: the only plugin of our conflist). */
  readonly entry: Record<string, unknown>;
  /** Main mode: our conflist's file name and network name. */
  readonly ownFile: string;
  readonly networkName: string;
  /** Files to install: the shim, the Node plugin, the Node runtime. */
  readonly shim: string;
  readonly nodePlugin: string;
  readonly nodeRuntime?: string;
  /** The service account: token and CA files, and the API server's URL (in-cluster env). */
  readonly serviceAccount?: { readonly tokenFile: string; readonly caFile: string; readonly server: string };
  readonly kubeconfigName: string;
  readonly checkIntervalMs: number;
}

export interface InstallCni {
  /** Ready: binaries in place and our entry (chained: last in the primary config) or conflist in place. */
  ready(): boolean;
  /** Why not ready (the last problem seen), for the readiness answer and the log. */
  problem(): string | undefined;
  /** Checks and repairs now (also runs on every change in the net dir and every interval). */
  check(): void;
  /** Removes our entry and our files, stops watching. */
  stop(): Promise<void>;
}

export function startInstallCni(opts: InstallCniOptions, log: Logger): InstallCni {
  const type = String(opts.entry.type);
  let problem: string | undefined = 'not checked yet';
  let token = '';
  const installed = [
    [opts.shim, 'palisade-cni'],
    [opts.nodePlugin, 'palisade-cni-node'],
    ...(opts.nodeRuntime ? [[opts.nodeRuntime, 'palisade-node']] : []),
  ] as const;

  const installBinaries = () => {
    for (const [from, name] of installed) copyFileAtomic(from, join(opts.binDir, name));
    log.info({ binDir: opts.binDir, files: installed.map(([, n]) => n) }, 'plugin installed');
  };

  const writeKubeconfig = () => {
    const sa = opts.serviceAccount;
    if (!sa || !existsSync(sa.tokenFile)) return;
    const now = readFileSync(sa.tokenFile, 'utf8').trim();
    if (now === token) return;
    token = now;
    const text = pluginKubeconfig({ server: sa.server, caPem: readFileSync(sa.caFile, 'utf8'), token: now });
    writeFileAtomic(join(opts.netDir, opts.kubeconfigName), text, 0o600);
    log.info({ file: join(opts.hostNetDir, opts.kubeconfigName) }, 'plugin kubeconfig written');
  };

  const configure = (): string | undefined => {
    if (opts.mode === 'main') {
      const path = join(opts.netDir, opts.ownFile);
      const text = mainConflist({ cniVersion: '1.0.0', name: opts.networkName, entry: opts.entry });
      if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
        writeFileAtomic(path, text);
        log.info({ file: path }, 'conflist written');
      }
      return undefined;
    }
    const primary = pickPrimary(readdirSync(opts.netDir), {
      dir: opts.netDir,
      confName: opts.confName,
      ownFile: opts.ownFile,
    });
    if ('error' in primary) return primary.error;
    const path = join(opts.netDir, primary.file);
    const out = insertPlugin(path, readFileSync(path, 'utf8'), opts.entry);
    if ('error' in out) return `${out.error} (left as it is)`;
    if (out.unchanged) return undefined;
    // out.file and out.replaces are paths in the form given (full paths here).
    writeFileAtomic(out.file, out.text);
    if (out.replaces && out.replaces !== out.file) rmSync(out.replaces, { force: true });
    log.info({ file: out.file, converted: out.replaces }, 'entry added to the primary CNI config');
    return undefined;
  };

  const inPlace = (): string | undefined => {
    for (const [, name] of installed) {
      if (!existsSync(join(opts.binDir, name))) return `${join(opts.binDir, name)} is missing`;
    }
    if (opts.mode === 'main') {
      return existsSync(join(opts.netDir, opts.ownFile)) ? undefined : `${opts.ownFile} is missing`;
    }
    const primary = pickPrimary(readdirSync(opts.netDir), {
      dir: opts.netDir,
      confName: opts.confName,
      ownFile: opts.ownFile,
    });
    if ('error' in primary) return primary.error;
    const text = readFileSync(join(opts.netDir, primary.file), 'utf8');
    return hasPluginLast(text, type) ? undefined : `${primary.file} does not end with the ${type} entry`;
  };

  const check = () => {
    try {
      writeKubeconfig();
      if (installed.some(([, name]) => !existsSync(join(opts.binDir, name)))) installBinaries();
      const why = configure() ?? inPlace();
      if (why !== problem) {
        if (why) log.warn({ problem: why }, 'CNI config not in place');
        else log.info({}, 'CNI config in place');
      }
      problem = why;
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
      log.error({ err }, 'install-cni check failed');
    }
  };

  installBinaries();
  check();
  let debounce: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(opts.netDir, () => {
      clearTimeout(debounce);
      debounce = setTimeout(check, 50);
    });
  } catch (err) {
    log.warn({ err, dir: opts.netDir }, 'cannot watch the CNI config dir; checking every interval only');
  }
  const timer = setInterval(check, opts.checkIntervalMs);

  return {
    ready: () => problem === undefined,
    problem: () => problem,
    check,
    async stop() {
      clearInterval(timer);
      clearTimeout(debounce);
      watcher?.close();
      if (opts.mode === 'main') rmSync(join(opts.netDir, opts.ownFile), { force: true });
      else {
        const primary = pickPrimary(readdirSync(opts.netDir), {
          dir: opts.netDir,
          confName: opts.confName,
          ownFile: opts.ownFile,
        });
        if (!('error' in primary)) {
          const path = join(opts.netDir, primary.file);
          const out = removePlugin(path, readFileSync(path, 'utf8'), type);
          if ('text' in out) writeFileAtomic(path, out.text);
          else if ('error' in out) log.warn({ problem: out.error }, 'entry not removed');
        }
      }
      rmSync(join(opts.netDir, opts.kubeconfigName), { force: true });
      for (const [, name] of installed) rmSync(join(opts.binDir, name), { force: true });
      log.info({}, 'uninstalled: entry and files removed');
    },
  };
}
