// Lockout protection, first line: before a host policy change is programmed, the connections a node cannot lose
// are run through the compiled table with the IR interpreter (the evaluator the compiler is tested with), and
// any it would drop are named. Pure.
//
// The connections: the node to the API server, the API server to the node's kubelet, the node to its DNS
// servers (UDP and TCP), and every failsafe one (inbound to each of the node's addresses, outbound from it).
// Each is tried through every interface a host endpoint of the node covers: its named ones, and for "*" an
// interface no endpoint names. Only first packets are judged (replies ride conntrack's established state).
import { evaluatePacket, type Packet } from '../ir/eval.js';
import type { Hook, Table } from '../ir/ir.js';
import { formatIp, parseCidr } from '../model/cidr.js';
import type { FailsafeRule, Failsafes } from '../model/failsafe.js';
import { coversAllInterfaces, type HostEndpoint } from '../model/host-endpoint.js';
import type { Protocol } from '../model/k8s.js';

export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

export interface LockoutInput {
  /** The node's own addresses. */
  readonly nodeIps: readonly string[];
  /** Where the API server is reached (its address as the agent dials it, and its port). */
  readonly apiServers: readonly Endpoint[];
  /** The node's DNS servers (port 53). */
  readonly dnsServers: readonly string[];
  readonly kubeletPort?: number;
  readonly failsafes: Failsafes;
  /** This node's host endpoints. */
  readonly hostEndpoints: readonly HostEndpoint[];
}

export interface Probe {
  /** What would be cut, for status and events: "node → API server 10.0.0.1:6443/TCP via eth0". */
  readonly connection: string;
  readonly packet: Packet;
  readonly hooks: readonly Hook[];
}

export interface Cut {
  readonly connection: string;
  /** The comments of the rules that decided, outermost first: the last names the rule that dropped it. */
  readonly trail: readonly string[];
}

/** An interface no host endpoint names, standing for those "*" covers. */
export const ANY_OTHER_INTERFACE = 'palisade-any0';
const IN: readonly Hook[] = ['prerouting', 'input'];
const OUT: readonly Hook[] = ['output'];

function interfaces(heps: readonly HostEndpoint[]): string[] {
  const named = heps.filter((h) => h.interfaceName && !coversAllInterfaces(h)).map((h) => h.interfaceName!);
  return [...new Set([...named, ...(heps.some(coversAllInterfaces) ? [ANY_OTHER_INTERFACE] : [])])];
}

/** An address inside the failsafe's CIDR (its first host), or a documentation address when it has none. */
function remoteOf(r: FailsafeRule, family: 4 | 6): string | undefined {
  if (!r.cidr) return family === 4 ? '203.0.113.7' : '2001:db8::7';
  const c = parseCidr(r.cidr);
  if (c.family !== family) return undefined;
  const bits = family === 4 ? 32 : 128;
  const first = c.prefix === bits ? c.network : c.network + 1n;
  return formatIp({ family, value: first });
}

const familyOf = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

export function lockoutProbes(input: LockoutInput): Probe[] {
  const probes: Probe[] = [];
  const add = (connection: string, hooks: readonly Hook[], p: Omit<Packet, 'ctState' | 'sport'>) =>
    probes.push({ connection, hooks, packet: { ...p, sport: 40000, ctState: 'new' } });
  for (const iface of interfaces(input.hostEndpoints)) {
    const via = iface === ANY_OTHER_INTERFACE ? 'any interface' : iface;
    const out = (what: string, dst: string, port: number, protocol: Protocol) => {
      for (const src of input.nodeIps.filter((ip) => familyOf(ip) === familyOf(dst)))
        add(`node → ${what} ${dst}:${port}/${protocol} via ${via}`, OUT, {
          iifname: '',
          oifname: iface,
          saddr: src,
          daddr: dst,
          protocol,
          dport: port,
        });
    };
    const into = (what: string, src: string, port: number, protocol: Protocol) => {
      for (const dst of input.nodeIps.filter((ip) => familyOf(ip) === familyOf(src)))
        add(`${what} ${src} → node ${dst}:${port}/${protocol} via ${via}`, IN, {
          daddrLocal: true,
          iifname: iface,
          oifname: '',
          saddr: src,
          daddr: dst,
          protocol,
          dport: port,
        });
    };
    for (const api of input.apiServers) {
      out('API server', api.ip, api.port, 'TCP');
      into('API server', api.ip, input.kubeletPort ?? 10250, 'TCP');
    }
    for (const dns of input.dnsServers) {
      out('DNS', dns, 53, 'UDP');
      out('DNS', dns, 53, 'TCP');
    }
    for (const r of input.failsafes.inbound)
      for (const family of [4, 6] as const) {
        const src = remoteOf(r, family);
        if (src) into(`failsafe from`, src, r.port, r.protocol);
      }
    for (const r of input.failsafes.outbound)
      for (const family of [4, 6] as const) {
        const dst = remoteOf(r, family);
        if (dst) out('failsafe to', dst, r.port, r.protocol);
      }
  }
  return probes;
}

/** The probes the table would drop. */
export function cutConnections(table: Table, probes: readonly Probe[]): Cut[] {
  return probes.flatMap((p) => {
    const v = evaluatePacket(table, p.packet, p.hooks);
    return v.verdict === 'drop' ? [{ connection: p.connection, trail: v.trail }] : [];
  });
}
