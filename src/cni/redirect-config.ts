// The network configuration of chained "redirect" mode (`"mode": "redirect"` in a conflist, after the main
// plugin): which pods are selected, where their traffic goes, how the plugin learns about pods. Decode and
// validate (every problem at once, each naming its field and value). Pure.
import { parseProfile, type RedirectProfile } from '../chained/profile.js';
import type { OutboundCapture } from '../chained/redirect-rules.js';
import { isObject } from '../model/k8s.js';
import { parseCniVersion } from './config.js';
import { CniCode, CniError } from './errors.js';
import { DEFAULT_MARKER_DIR } from './redirect-marker.js';
import type { Verb } from './version.js';

export interface RedirectConf {
  readonly cniVersion: string;
  readonly name: string;
  readonly type: string;
  readonly mode: 'redirect';
  /** Pods in these namespaces are never redirected, nor held up (checked before anything is fetched). */
  readonly excludeNamespaces: readonly string[];
  readonly profile: RedirectProfile;
  /** Inbound TCP to the selected ports goes to this port (the proxy's inbound listener). */
  readonly proxyPort: number;
  /** The proxy's own traffic, never redirected: by uid, gid and/or socket mark. */
  readonly proxyUid?: number;
  readonly proxyGid?: number;
  readonly proxyMark?: number;
  readonly outbound?: OutboundCapture;
  /** The node agent's socket: pod and namespace facts without an API connection. */
  readonly agentSocket: string;
  readonly agentTimeoutMs: number;
  /** Fallback when the agent is unreachable: a kubeconfig (install-cni writes one). */
  readonly kubeconfig?: string;
  /** Where a redirected pod leaves its marker, for the agent's repair controller (src/cni/redirect-marker.ts). */
  readonly markerDir: string;
  /** The previous plugin's result, passed on unchanged. */
  readonly prevResult?: Record<string, unknown>;
}

export const DEFAULT_PROXY_PORT = 15006;
export const DEFAULT_PROXY_UID = 1337;
export const DEFAULT_AGENT_SOCKET = '/run/palisade/cni.sock';
export const DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system'];

const isPort = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
const isId = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32;

function port(
  raw: unknown,
  field: string,
  fallback: number | undefined,
  problems: string[],
): number | undefined {
  if (raw === undefined) return fallback;
  if (isPort(raw)) return raw;
  problems.push(`${field}: ${JSON.stringify(raw)} must be a port from 1 to 65535`);
  return fallback;
}

function id(raw: unknown, field: string, problems: string[]): number | undefined {
  if (raw === undefined) return undefined;
  if (isId(raw)) return raw;
  problems.push(`${field}: ${JSON.stringify(raw)} must be an integer from 0 to 4294967295`);
  return undefined;
}

function strings(raw: unknown, field: string, fallback: readonly string[], problems: string[]): string[] {
  if (raw === undefined) return [...fallback];
  if (Array.isArray(raw) && raw.every((x) => typeof x === 'string' && x !== '')) return raw as string[];
  problems.push(`${field}: ${JSON.stringify(raw)} must be a list of non-empty strings`);
  return [...fallback];
}

function outbound(raw: unknown, problems: string[]): OutboundCapture | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) {
    problems.push(`outbound: ${JSON.stringify(raw)} must be an object`);
    return undefined;
  }
  const ports = raw.excludePorts ?? [];
  if (!Array.isArray(ports) || !ports.every(isPort)) {
    problems.push(
      `outbound.excludePorts: ${JSON.stringify(raw.excludePorts)} must be a list of ports 1-65535`,
    );
  }
  return {
    proxyPort: port(raw.proxyPort, 'outbound.proxyPort', 15001, problems)!,
    includeCidrs: strings(raw.includeCidrs, 'outbound.includeCidrs', ['0.0.0.0/0', '::/0'], problems),
    excludeCidrs: strings(raw.excludeCidrs, 'outbound.excludeCidrs', [], problems),
    excludePorts: Array.isArray(ports) ? ports.filter(isPort) : [],
  };
}

/** Whether a decoded config is for redirect mode (the dispatch in plugin.ts). */
export function isRedirectConf(raw: Record<string, unknown>): boolean {
  return raw.mode === 'redirect';
}

export function parseRedirectConf(raw: Record<string, unknown>, verb: Verb): RedirectConf {
  const cniVersion = parseCniVersion(raw, verb);
  const problems: string[] = [];
  if (typeof raw.name !== 'string' || raw.name === '')
    problems.push(`name: ${JSON.stringify(raw.name)} must be the network name`);
  if (typeof raw.type !== 'string' || raw.type === '')
    problems.push(`type: ${JSON.stringify(raw.type)} must be the plugin's executable name`);
  const profile = parseProfile(raw.redirect, 'redirect');
  if ('errors' in profile) problems.push(...profile.errors);
  const proxyPort = port(raw.proxyPort, 'proxyPort', DEFAULT_PROXY_PORT, problems)!;
  let proxyUid = id(raw.proxyUid, 'proxyUid', problems);
  const proxyGid = id(raw.proxyGid, 'proxyGid', problems);
  const proxyMark = id(raw.proxyMark, 'proxyMark', problems);
  if (raw.proxyUid === undefined && raw.proxyGid === undefined && raw.proxyMark === undefined) {
    proxyUid = DEFAULT_PROXY_UID;
  }
  const agentSocket = raw.agentSocket ?? DEFAULT_AGENT_SOCKET;
  if (typeof agentSocket !== 'string' || !agentSocket.startsWith('/')) {
    problems.push(`agentSocket: ${JSON.stringify(raw.agentSocket)} must be an absolute path`);
  }
  const timeout = raw.agentTimeoutMs ?? 5_000;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > 300_000) {
    problems.push(
      `agentTimeoutMs: ${JSON.stringify(raw.agentTimeoutMs)} must be an integer from 1 to 300000`,
    );
  }
  if (
    raw.kubeconfig !== undefined &&
    (typeof raw.kubeconfig !== 'string' || !raw.kubeconfig.startsWith('/'))
  ) {
    problems.push(`kubeconfig: ${JSON.stringify(raw.kubeconfig)} must be an absolute path`);
  }
  const markerDir = raw.markerDir ?? DEFAULT_MARKER_DIR;
  if (typeof markerDir !== 'string' || !markerDir.startsWith('/')) {
    problems.push(`markerDir: ${JSON.stringify(raw.markerDir)} must be an absolute path`);
  }
  if (raw.prevResult !== undefined && !isObject(raw.prevResult)) {
    problems.push(`prevResult: must be an object, got ${JSON.stringify(raw.prevResult)}`);
  }
  if ((verb === 'ADD' || verb === 'CHECK') && raw.prevResult === undefined) {
    problems.push(
      'prevResult: missing: redirect mode is a chained plugin and must follow the main plugin in a conflist',
    );
  }
  const out = outbound(raw.outbound, problems);
  const excludeNamespaces = strings(
    raw.excludeNamespaces,
    'excludeNamespaces',
    DEFAULT_EXCLUDED_NAMESPACES,
    problems,
  );
  if (problems.length > 0 || 'errors' in profile) {
    throw new CniError(CniCode.InvalidNetworkConfig, `invalid network configuration: ${problems.join('; ')}`);
  }
  return {
    cniVersion,
    name: raw.name as string,
    type: raw.type as string,
    mode: 'redirect',
    excludeNamespaces,
    profile: profile.profile,
    proxyPort,
    ...(proxyUid !== undefined ? { proxyUid } : {}),
    ...(proxyGid !== undefined ? { proxyGid } : {}),
    ...(proxyMark !== undefined ? { proxyMark } : {}),
    ...(out ? { outbound: out } : {}),
    agentSocket: agentSocket as string,
    markerDir: markerDir as string,
    agentTimeoutMs: timeout as number,
    ...(typeof raw.kubeconfig === 'string' ? { kubeconfig: raw.kubeconfig } : {}),
    ...(isObject(raw.prevResult) ? { prevResult: raw.prevResult } : {}),
  };
}
