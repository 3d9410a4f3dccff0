// The ADD result, held in 1.1.0 terms and written out in whatever version the runtime asked for. Pure.
import { compareVersions } from './version.js';

export interface ResultInterface {
  readonly name: string;
  readonly mac?: string;
  readonly mtu?: number;
  /** Set for interfaces inside the container: the netns path. */
  readonly sandbox?: string;
}

export interface ResultIp {
  /** CIDR as configured on the interface, e.g. "10.244.1.5/32". */
  readonly address: string;
  readonly gateway?: string;
  /** Index into interfaces. */
  readonly interface?: number;
}

export interface ResultRoute {
  readonly dst: string;
  readonly gw?: string;
}

export interface Result {
  readonly interfaces: readonly ResultInterface[];
  readonly ips: readonly ResultIp[];
  readonly routes: readonly ResultRoute[];
  readonly dns: Readonly<{ nameservers?: string[]; domain?: string; search?: string[]; options?: string[] }>;
}

/** Formats a Result in the wire format of `cniVersion` (0.3.x/0.4.0 carry ips[].version; 1.1.0 adds mtu). */
export function formatResult(result: Result, cniVersion: string): Record<string, unknown> {
  const legacy = compareVersions(cniVersion, '1.0.0') < 0;
  const withMtu = compareVersions(cniVersion, '1.1.0') >= 0;
  const interfaces = result.interfaces.map((i) => {
    const out: Record<string, unknown> = { name: i.name };
    if (i.mac !== undefined) out.mac = i.mac;
    if (withMtu && i.mtu !== undefined) out.mtu = i.mtu;
    if (i.sandbox !== undefined) out.sandbox = i.sandbox;
    return out;
  });
  const ips = result.ips.map((ip) => {
    const out: Record<string, unknown> = {};
    if (legacy) out.version = ip.address.includes(':') ? '6' : '4';
    out.address = ip.address;
    if (ip.gateway !== undefined) out.gateway = ip.gateway;
    if (ip.interface !== undefined) out.interface = ip.interface;
    return out;
  });
  const routes = result.routes.map((r) => (r.gw === undefined ? { dst: r.dst } : { dst: r.dst, gw: r.gw }));
  return { cniVersion, interfaces, ips, routes, dns: { ...result.dns } };
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Reads a prevResult of any supported version back into a Result (unknown fields are dropped). */
export function parseResult(raw: Record<string, unknown>): Result {
  const interfaces = asArray(raw.interfaces).flatMap((i): ResultInterface[] => {
    const o = i as Record<string, unknown>;
    const name = str(o?.name);
    if (!name) return [];
    return [
      { name, mac: str(o.mac), sandbox: str(o.sandbox), mtu: typeof o.mtu === 'number' ? o.mtu : undefined },
    ];
  });
  const ips = asArray(raw.ips).flatMap((i): ResultIp[] => {
    const o = i as Record<string, unknown>;
    const address = str(o?.address);
    if (!address) return [];
    return [
      {
        address,
        gateway: str(o.gateway),
        interface: typeof o.interface === 'number' ? o.interface : undefined,
      },
    ];
  });
  const routes = asArray(raw.routes).flatMap((r): ResultRoute[] => {
    const o = r as Record<string, unknown>;
    const dst = str(o?.dst);
    return dst ? [{ dst, gw: str(o.gw) }] : [];
  });
  return { interfaces, ips, routes, dns: (raw.dns as Result['dns']) ?? {} };
}
