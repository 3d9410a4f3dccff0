// `palisade agent`'s host policy flags: failsafes and lockout protection, parsed into HostPolicyOptions.
import { readFileSync } from 'node:fs';
import type { HostPolicyOptions } from '../agent/agent.js';
import { tryParseIp } from '../model/cidr.js';
import { DEFAULT_FAILSAFES, formatFailsafeList, parseFailsafeList } from '../model/failsafe.js';
import type { Endpoint } from '../policy/lockout.js';
import { UsageError } from './usage.js';

export const HOST_POLICY_USAGE = `  --failsafe-inbound LIST    connections to the node no host policy can cut: PROTO:PORT or PROTO:CIDR:PORT,
                            comma-separated, PORT may be FROM-TO, or none (default ${formatFailsafeList(DEFAULT_FAILSAFES.inbound)})
  --failsafe-outbound LIST  the same for connections the node opens (default ${formatFailsafeList(DEFAULT_FAILSAFES.outbound)})
  --lockout-protection on|off  refuse a host policy change that would cut the node from the API server, its
                            kubelet, DNS or a failsafe connection (default on)
  --api-server IP:PORT      where the lockout checks expect the API server (repeatable; default: the kubeconfig's
                            server and, in a pod, the kubernetes Service)
  --dns-server IP           the node's DNS servers for the lockout checks (repeatable; default: /etc/resolv.conf)
  --confirm-window MS       after a host policy change, roll it back if the API server does not answer within MS
                            (kubernetes datastore; 0 = off; default 10000)`;

export const HOST_POLICY_OPTIONS: {
  readonly 'failsafe-inbound': { type: 'string' };
  readonly 'failsafe-outbound': { type: 'string' };
  readonly 'lockout-protection': { type: 'string'; default: string };
  readonly 'api-server': { type: 'string'; multiple: true; default: string[] };
  readonly 'dns-server': { type: 'string'; multiple: true; default: string[] };
  readonly 'confirm-window': { type: 'string'; default: string };
} = {
  'failsafe-inbound': { type: 'string' },
  'failsafe-outbound': { type: 'string' },
  'lockout-protection': { type: 'string', default: 'on' },
  'api-server': { type: 'string', multiple: true, default: [] },
  'dns-server': { type: 'string', multiple: true, default: [] },
  'confirm-window': { type: 'string', default: '10000' },
};

export interface HostPolicyFlags {
  readonly 'failsafe-inbound'?: string;
  readonly 'failsafe-outbound'?: string;
  readonly 'lockout-protection'?: string;
  readonly 'api-server'?: string[];
  readonly 'dns-server'?: string[];
  readonly 'confirm-window'?: string;
}

function endpoint(text: string): Endpoint | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || !tryParseIp(m[1]!) || port < 1 || port > 65535) return undefined;
  return { ip: m[1]!, port };
}

/** The nameservers of a resolv.conf (IP literals only). */
export function resolvConfServers(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((ip): ip is string => ip !== undefined && tryParseIp(ip) !== undefined);
}

/** Every problem at once, as one UsageError. */
export async function parseHostPolicyFlags(
  values: HostPolicyFlags,
  datastore: string,
): Promise<HostPolicyOptions> {
  const problems: string[] = [];
  const list = (flag: 'failsafe-inbound' | 'failsafe-outbound', fallback: HostPolicyOptions['failsafes']) => {
    const text = values[flag];
    if (text === undefined)
      return fallback === undefined ? [] : flag === 'failsafe-inbound' ? fallback.inbound : fallback.outbound;
    const r = parseFailsafeList(text, `--${flag}`);
    problems.push(...r.problems);
    return r.rules;
  };
  const failsafes = {
    inbound: list('failsafe-inbound', DEFAULT_FAILSAFES),
    outbound: list('failsafe-outbound', DEFAULT_FAILSAFES),
  };
  const on = values['lockout-protection'] ?? 'on';
  if (on !== 'on' && on !== 'off') problems.push(`--lockout-protection: "${on}" must be on or off`);
  const apiServers = (values['api-server'] ?? []).flatMap((t) => {
    const e = endpoint(t);
    if (!e) problems.push(`--api-server: "${t}" must be IP:PORT`);
    return e ? [e] : [];
  });
  const dns = values['dns-server'] ?? [];
  for (const ip of dns) if (!tryParseIp(ip)) problems.push(`--dns-server: "${ip}" is not an IP address`);
  const windowMs = Number(values['confirm-window'] ?? '10000');
  if (!Number.isInteger(windowMs) || windowMs < 0)
    problems.push(`--confirm-window: "${values['confirm-window']}" must be a whole number of ms >= 0`);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  const kube = datastore === 'kubernetes';
  const probe = kube ? await import('../datastore/kube-api-probe.js') : undefined;
  const knownApi = apiServers.length > 0 ? apiServers : (probe?.apiServerEndpoints() ?? []);
  const dnsServers = dns.length > 0 ? dns : resolvConfServers(readResolvConf());
  return {
    failsafes,
    ...(on === 'on' ? { lockout: { apiServers: () => knownApi, dnsServers: () => dnsServers } } : {}),
    ...(probe && windowMs > 0 && on === 'on' ? { confirm: { windowMs, probe: probe.apiServerProbe() } } : {}),
  };
}

function readResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return ''; // no resolv.conf: no DNS server to protect (the flag names them)
  }
}
