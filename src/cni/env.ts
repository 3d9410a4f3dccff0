// The CNI_* environment variables: which each verb needs, and their validation (SPEC "Parameters"). Pure.
import { CniCode, CniError } from './errors.js';
import type { Verb } from './version.js';

export interface CniEnv {
  readonly command: Verb;
  readonly containerID: string;
  readonly netns: string;
  readonly ifname: string;
  /** CNI_ARGS as key/value pairs, e.g. K8S_POD_NAMESPACE. */
  readonly args: Readonly<Record<string, string>>;
  readonly path: readonly string[];
}

const VERBS: readonly Verb[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'];

/** Which variables each verb requires (as containernetworking's skel does). CNI_NETNS is optional on DEL. */
const REQUIRED: Record<string, readonly Verb[]> = {
  CNI_CONTAINERID: ['ADD', 'DEL', 'CHECK'],
  CNI_NETNS: ['ADD', 'CHECK'],
  CNI_IFNAME: ['ADD', 'DEL', 'CHECK'],
  CNI_PATH: ['ADD', 'DEL', 'CHECK', 'GC'],
};

const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** SPEC: an interface name is 1-15 chars, not "." or "..", and has no "/", ":" or whitespace. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 15) return `is ${name.length} characters long (at most 15)`;
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  if (/[/:\s]/.test(name)) return 'must not contain "/", ":" or whitespace';
  return undefined;
}

export function containerIdProblem(id: string): string | undefined {
  return CONTAINER_ID_RE.test(id)
    ? undefined
    : 'must start with a letter or digit, followed by letters, digits, "_", "." or "-"';
}

/** Parses CNI_ARGS ("IgnoreUnknown=1;K8S_POD_NAME=web"). Malformed pairs are an error naming the pair. */
export function parseCniArgs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new CniError(CniCode.InvalidEnvironment, `CNI_ARGS: invalid pair "${pair}" (expected KEY=VALUE)`);
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export function parseCniEnv(env: Readonly<Record<string, string | undefined>>): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (!command)
    throw new CniError(CniCode.InvalidEnvironment, 'required env variable CNI_COMMAND is missing');
  if (!(VERBS as readonly string[]).includes(command)) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_COMMAND: unknown command "${command}" (expected one of ${VERBS.join(', ')})`,
    );
  }
  const verb = command as Verb;
  const missing = Object.entries(REQUIRED)
    .filter(([name, verbs]) => verbs.includes(verb) && !env[name])
    .map(([name]) => name);
  if (missing.length > 0) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `required env variables [${missing.join(',')}] missing for ${verb}`,
    );
  }
  const containerID = env.CNI_CONTAINERID ?? '';
  const ifname = env.CNI_IFNAME ?? '';
  const problems: string[] = [];
  if (containerID) {
    const p = containerIdProblem(containerID);
    if (p) problems.push(`CNI_CONTAINERID: "${containerID}" ${p}`);
  }
  if (ifname) {
    const p = interfaceNameProblem(ifname);
    if (p) problems.push(`CNI_IFNAME: "${ifname}" ${p}`);
  }
  if (problems.length > 0) throw new CniError(CniCode.InvalidEnvironment, problems.join('; '));
  return {
    command: verb,
    containerID,
    netns: env.CNI_NETNS ?? '',
    ifname,
    args: parseCniArgs(env.CNI_ARGS ?? ''),
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
}
