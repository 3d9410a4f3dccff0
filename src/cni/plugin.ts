// The plugin's composition: env + stdin in, one JSON document (or nothing) and an exit code out.
// Every failure becomes exactly one SPEC error on stdout; nothing else is ever written there.
import type { Runner } from '../dataplane/runner.js';
import type { Logger } from '../util/log.js';
import { cmdAdd } from './cmd-add.js';
import { cmdCheck } from './cmd-check.js';
import { cmdDel } from './cmd-del.js';
import { cmdGc } from './cmd-gc.js';
import { cmdStatus } from './cmd-status.js';
import { decodeStdin, parseNetConf, requestedVersion } from './config.js';
import { parseCniEnv } from './env.js';
import { CniCode, CniError, errorToJson, toCniError } from './errors.js';
import { isSupported, LATEST_VERSION, versionResult } from './version.js';

export interface PluginDeps {
  readonly runner: Runner;
  readonly log: Logger;
  /** Whether a network namespace path exists (fs in production, a fake in tests). */
  readonly netnsExists: (path: string) => boolean;
}

export interface PluginOutput {
  readonly stdout: string;
  readonly exitCode: number;
}

function answer(doc: unknown): PluginOutput {
  return { stdout: `${JSON.stringify(doc)}\n`, exitCode: 0 };
}

export async function runPlugin(
  env: Readonly<Record<string, string | undefined>>,
  stdin: string,
  deps: PluginDeps,
): Promise<PluginOutput> {
  let raw: Record<string, unknown> | undefined;
  try {
    const cniEnv = parseCniEnv(env);
    if (cniEnv.command === 'VERSION') return answer(versionResult());
    raw = decodeStdin(stdin);
    const conf = parseNetConf(raw, cniEnv.command);
    const log = deps.log.child({
      cmd: cniEnv.command,
      containerID: cniEnv.containerID,
      ifname: cniEnv.ifname,
    });
    const ctx = { env: cniEnv, conf, deps: { ...deps, log } };
    switch (cniEnv.command) {
      case 'ADD':
        return answer(await cmdAdd(ctx));
      case 'DEL':
        await cmdDel(ctx);
        return { stdout: '', exitCode: 0 };
      case 'CHECK':
        await cmdCheck(ctx);
        return { stdout: '', exitCode: 0 };
      case 'GC':
        await cmdGc(ctx);
        return { stdout: '', exitCode: 0 };
      case 'STATUS':
        await cmdStatus(ctx);
        return { stdout: '', exitCode: 0 };
    }
    throw new CniError(CniCode.InvalidEnvironment, `CNI_COMMAND: unhandled command "${cniEnv.command}"`);
  } catch (err) {
    const cniErr = toCniError(err);
    if (cniErr.code === CniCode.Internal) deps.log.error({ err }, 'plugin failed');
    const requested = requestedVersion(raw);
    const version = requested && isSupported(requested) ? requested : LATEST_VERSION;
    return { stdout: `${JSON.stringify(errorToJson(cniErr, version))}\n`, exitCode: 1 };
  }
}
