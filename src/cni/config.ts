// The network configuration a runtime streams on stdin: decode, validate (every problem at once), type. Pure.
import { type IpamConfig, parseIpamConfig } from '../ipam/config.js';
import { isObject } from '../model/k8s.js';
import { CniCode, CniError } from './errors.js';
import { assertVersionAllows, type Verb } from './version.js';

export type Mode = 'routed';
export const MODES: readonly Mode[] = ['routed'];

export interface Attachment {
  readonly containerID: string;
  readonly ifname: string;
}

export interface NetConf {
  readonly cniVersion: string;
  readonly name: string;
  readonly type: string;
  readonly mode: Mode;
  readonly mtu: number;
  readonly ipam: IpamConfig;
  /**
   * The node agent's hand-off socket. When set, ADD returns only after the agent has programmed policy for the
   * new pod, and fails with code 11 (try again later) when the agent cannot be reached.
   */
  readonly agentSocket?: string;
  readonly agentTimeoutMs: number;
  /** The raw prevResult (CHECK, DEL and chained ADD), in the config's version format. */
  readonly prevResult?: Record<string, unknown>;
  /** GC only: the attachments the runtime still knows. */
  readonly validAttachments?: readonly Attachment[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Decodes stdin. Malformed JSON is the SPEC's code 6; a non-object is invalid config (7). */
export function decodeStdin(text: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CniError(
      CniCode.DecodingFailure,
      'failed to decode network configuration from stdin',
      err instanceof Error ? err.message : String(err),
      { cause: err },
    );
  }
  if (!isObject(raw)) {
    throw new CniError(CniCode.InvalidNetworkConfig, 'network configuration must be a JSON object');
  }
  return raw;
}

/** The version the answer must be written in; falls back when the config has none we can read. */
export function requestedVersion(raw: Record<string, unknown> | undefined): string | undefined {
  const v = raw?.cniVersion;
  return typeof v === 'string' ? v : undefined;
}

function parseAttachments(raw: Record<string, unknown>, problems: string[]): Attachment[] {
  const key = 'cni.dev/valid-attachments' in raw ? 'cni.dev/valid-attachments' : 'cni.dev/attachments';
  const list = raw[key];
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    problems.push(`${key}: must be a list of {containerID, ifname}, got ${JSON.stringify(list)}`);
    return [];
  }
  const out: Attachment[] = [];
  list.forEach((a, i) => {
    if (isObject(a) && typeof a.containerID === 'string' && typeof a.ifname === 'string') {
      out.push({ containerID: a.containerID, ifname: a.ifname });
    } else {
      problems.push(`${key}[${i}]: must be {containerID, ifname} strings, got ${JSON.stringify(a)}`);
    }
  });
  return out;
}

function parseMtu(raw: unknown, problems: string[]): number {
  if (raw === undefined) return 1500;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 68 || raw > 65535) {
    problems.push(`mtu: ${JSON.stringify(raw)} must be an integer from 68 to 65535`);
    return 1500;
  }
  return raw;
}

/**
 * Validates a decoded config for a verb. Version problems are code 1, unsupported values code 2, everything
 * else code 7; all problems of one kind are reported together, each naming its field and value.
 */
/** The config's cniVersion, checked first (code 7 when absent, 1 when the verb needs a newer one). */
export function parseCniVersion(raw: Record<string, unknown>, verb: Verb): string {
  const cniVersion = raw.cniVersion;
  if (typeof cniVersion !== 'string') {
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      `cniVersion: must be a string, got ${JSON.stringify(cniVersion)}`,
    );
  }
  assertVersionAllows(cniVersion, verb);
  return cniVersion;
}

export function parseNetConf(raw: Record<string, unknown>, verb: Verb): NetConf {
  const cniVersion = parseCniVersion(raw, verb);

  const problems: string[] = [];
  const name = raw.name;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    problems.push(
      `name: ${JSON.stringify(name)} must be a non-empty network name (letters, digits, "_", ".", "-")`,
    );
  }
  if (typeof raw.type !== 'string' || raw.type === '') {
    problems.push(`type: ${JSON.stringify(raw.type)} must be the plugin's executable name`);
  }
  const mode = raw.mode ?? 'routed';
  if (!(MODES as readonly unknown[]).includes(mode)) {
    throw new CniError(
      CniCode.UnsupportedField,
      `mode: ${JSON.stringify(mode)} is not supported (supported: ${MODES.join(', ')})`,
    );
  }
  const mtu = parseMtu(raw.mtu, problems);
  if (
    raw.agentSocket !== undefined &&
    (typeof raw.agentSocket !== 'string' || !raw.agentSocket.startsWith('/'))
  ) {
    problems.push(`agentSocket: ${JSON.stringify(raw.agentSocket)} must be an absolute path`);
  }
  const timeout = raw.agentTimeoutMs ?? 10_000;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > 300_000) {
    problems.push(
      `agentTimeoutMs: ${JSON.stringify(raw.agentTimeoutMs)} must be an integer from 1 to 300000`,
    );
  }
  const ipam = parseIpamConfig(raw.ipam ?? {}, 'ipam');
  if (!ipam.ok) problems.push(...ipam.errors);
  if (raw.prevResult !== undefined && !isObject(raw.prevResult)) {
    problems.push(`prevResult: must be an object, got ${JSON.stringify(raw.prevResult)}`);
  }
  const validAttachments = verb === 'GC' ? parseAttachments(raw, problems) : undefined;
  if (problems.length > 0 || !ipam.ok) {
    throw new CniError(CniCode.InvalidNetworkConfig, `invalid network configuration: ${problems.join('; ')}`);
  }
  return {
    cniVersion,
    name: name as string,
    type: raw.type as string,
    mode: mode as Mode,
    mtu,
    ipam: ipam.config,
    agentSocket: typeof raw.agentSocket === 'string' ? raw.agentSocket : undefined,
    agentTimeoutMs: typeof timeout === 'number' ? timeout : 10_000,
    prevResult: isObject(raw.prevResult) ? raw.prevResult : undefined,
    validAttachments,
  };
}
