// `lab probe --from X --to Y`: chosen pairs among pods, nodes and the outside host. Pure: parses the endpoints,
// resolves them against the lab, plans one probe per pair, and judges and prints the results.
//   --from  NS/POD | NODE | outside | outside@ADDRESS      (ADDRESS: one of the outside host's addresses)
//   --to    NS/POD | NODE | outside | outside@ADDRESS | ADDRESS, each optionally :PORT (e.g. node-1:30080)
// Verdicts: connected (a server answered: `peer` names it, e.g. the backend pod behind a NodePort), refused (TCP
// RST or an ICMP error came back), dropped (silence until the timeout, or the prober's own netns dropped it), and
// error (the lab could not tell: e.g. SCTP without kernel support).
import { tryParseIp } from '../model/cidr.js';
import type { Protocol } from './pod-server-config.js';
import type { ProbeResult, ProbeTarget } from './pod-server-protocol.js';

export type Endpoint =
  | { readonly kind: 'pod'; readonly key: string }
  | { readonly kind: 'node'; readonly name: string }
  | { readonly kind: 'outside'; readonly address?: string }
  | { readonly kind: 'address'; readonly ip: string };

export interface EndpointSpec {
  /** As given on the command line: how results name it. */
  readonly text: string;
  readonly endpoint: Endpoint;
  /** `:PORT` of a destination; --port otherwise. */
  readonly port?: number;
}

export class ProbeSpecError extends Error {
  override readonly name = 'ProbeSpecError';
}

const PORT_RE = /^(.*):(\d{1,5})$/;

function splitPort(text: string, flag: string): { head: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text); // [IPv6] or [IPv6]:PORT
  if (bracketed)
    return { head: bracketed[1]!, ...(bracketed[2] ? { port: checkPort(bracketed[2], flag, text) } : {}) };
  const m = PORT_RE.exec(text);
  if (!m || m[1]!.includes(':')) return { head: text }; // a bare IPv6 address has no port
  return { head: m[1]!, port: checkPort(m[2]!, flag, text) };
}

function checkPort(p: string, flag: string, text: string): number {
  const port = Number(p);
  if (port < 1 || port > 65535) throw new ProbeSpecError(`${flag}: "${text}": port ${p} is not 1-65535`);
  return port;
}

/** Parses one --from (no port, no bare address) or --to endpoint. */
export function parseEndpoint(text: string, flag: '--from' | '--to'): EndpointSpec {
  const { head, port } = flag === '--to' ? splitPort(text, flag) : { head: text, port: undefined };
  const withPort = (endpoint: Endpoint): EndpointSpec => ({ text, endpoint, ...(port ? { port } : {}) });
  if (head === 'outside') return withPort({ kind: 'outside' });
  if (head.startsWith('outside@')) {
    const address = head.slice('outside@'.length);
    if (!tryParseIp(address)) throw new ProbeSpecError(`${flag}: "${text}": "${address}" is not an address`);
    return withPort({ kind: 'outside', address });
  }
  if (tryParseIp(head)) {
    if (flag === '--from') {
      throw new ProbeSpecError(
        `--from: "${text}": name a pod, a node or outside (outside@ADDRESS to choose its address)`,
      );
    }
    return withPort({ kind: 'address', ip: head });
  }
  const parts = head.split('/');
  if (parts.length === 2 && parts[0] && parts[1]) return withPort({ kind: 'pod', key: head });
  if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(head)) return withPort({ kind: 'node', name: head });
  throw new ProbeSpecError(
    `${flag}: "${text}" is not NAMESPACE/POD, a node, outside, outside@ADDRESS${flag === '--to' ? ', an address (each with an optional :PORT)' : ''}`,
  );
}

/** What of the lab the pairs resolve against. */
export interface LabView {
  readonly pods: readonly { readonly key: string; readonly ip: string; readonly controlSocket: string }[];
  readonly nodes: readonly { readonly name: string; readonly ip: string }[];
  /** Control sockets of the nodes' and the outside host's probe servers, by name. */
  readonly hostServers: Readonly<Record<string, string>>;
  /** The outside host's addresses, its own first. */
  readonly outsideIps: readonly string[];
}

export interface Source {
  readonly text: string;
  readonly controlSocket: string;
  readonly address?: string;
}

function hostServer(view: LabView, name: string, text: string): string {
  const socket = view.hostServers[name];
  if (!socket)
    throw new ProbeSpecError(
      `--from: "${text}": ${name} has no probe server (a lab from before they existed: lab down, lab up)`,
    );
  return socket;
}

function outsideAddress(view: LabView, spec: EndpointSpec, flag: string, address?: string): string {
  if (view.outsideIps.length === 0)
    throw new ProbeSpecError(`${flag}: "${spec.text}": this lab has no outside host`);
  if (address === undefined) return view.outsideIps[0]!;
  if (!view.outsideIps.includes(address)) {
    throw new ProbeSpecError(
      `${flag}: "${spec.text}": ${address} is not an outside address (${view.outsideIps.join(', ')})`,
    );
  }
  return address;
}

function findPod(view: LabView, key: string, flag: string) {
  const pod = view.pods.find((p) => p.key === key);
  if (!pod) throw new ProbeSpecError(`${flag}: no pod ${key} runs in the lab`);
  return pod;
}

function findNode(view: LabView, name: string, flag: string) {
  const node = view.nodes.find((n) => n.name === name);
  if (!node) {
    const nodes = view.nodes.map((n) => n.name).join(', ');
    throw new ProbeSpecError(`${flag}: "${name}" is not a node (${nodes}), outside, or NAMESPACE/POD`);
  }
  return node;
}

export function resolveSource(spec: EndpointSpec, view: LabView): Source {
  const e = spec.endpoint;
  switch (e.kind) {
    case 'pod':
      return { text: spec.text, controlSocket: findPod(view, e.key, '--from').controlSocket };
    case 'node':
      findNode(view, e.name, '--from');
      return { text: spec.text, controlSocket: hostServer(view, e.name, spec.text) };
    case 'outside': {
      const controlSocket = hostServer(view, 'outside', spec.text);
      if (e.address === undefined) return { text: spec.text, controlSocket };
      return { text: spec.text, controlSocket, address: outsideAddress(view, spec, '--from', e.address) };
    }
    default:
      throw new ProbeSpecError(`--from: "${spec.text}" is not a pod, node or outside`);
  }
}

export interface Destination {
  readonly text: string;
  readonly ip: string;
  readonly port: number;
}

export function resolveDestination(spec: EndpointSpec, view: LabView, defaultPort: number): Destination {
  const e = spec.endpoint;
  const port = spec.port ?? defaultPort;
  const ip =
    e.kind === 'pod'
      ? findPod(view, e.key, '--to').ip
      : e.kind === 'node'
        ? findNode(view, e.name, '--to').ip
        : e.kind === 'outside'
          ? outsideAddress(view, spec, '--to', e.address)
          : e.ip;
  return { text: spec.text, ip, port };
}

export type PairVerdict = 'connected' | 'refused' | 'dropped' | 'error';

export function verdictOf(result: ProbeResult): PairVerdict {
  if (result.ok) return 'connected';
  switch (result.reason) {
    case 'no-answer': // connected, but what answered is not a lab server (it sent no id)
      return 'connected';
    case 'refused':
    case 'reset':
    case 'unreachable':
      return 'refused';
    case 'timeout':
    case 'blocked-locally':
      return 'dropped';
    default:
      return 'error';
  }
}

export interface PairResult {
  readonly from: string;
  readonly to: string;
  /** The address the probe was sent from, when one was chosen (outside@ADDRESS). */
  readonly source: string | null;
  readonly address: string;
  readonly port: number;
  readonly protocol: Lowercase<Protocol>;
  readonly verdict: PairVerdict;
  readonly reason: string;
  /** Who answered: a pod's NAMESPACE/POD, or a host's name ("outside", a node's probe server never serves). */
  readonly peer: string | null;
  readonly ms: number;
}

export interface PairsJson {
  readonly protocol: Lowercase<Protocol>;
  readonly timeoutMs: number;
  readonly results: readonly PairResult[];
}

/** The probe of one pair, as its source's server takes it: any server's answer counts. */
export function pairTarget(key: string, source: Source, to: Destination, protocol: Protocol): ProbeTarget {
  return {
    key,
    ip: to.ip,
    port: to.port,
    protocol,
    anyPeer: true,
    ...(source.address ? { source: source.address } : {}),
  };
}

export function pairResult(source: Source, to: Destination, protocol: Protocol, r: ProbeResult): PairResult {
  return {
    from: source.text,
    to: to.text,
    source: source.address ?? null,
    address: to.ip,
    port: to.port,
    protocol: protocol.toLowerCase() as Lowercase<Protocol>,
    verdict: verdictOf(r),
    reason: r.reason,
    peer: r.peer ?? null,
    ms: r.ms,
  };
}

/** One line per pair, columns aligned. */
export function renderPairsTable(results: readonly PairResult[]): string {
  const rows = results.map((r) => [
    r.from,
    `${r.to} (${r.address}:${r.port}/${r.protocol})`,
    r.verdict,
    r.peer ?? '-',
    r.reason,
    `${r.ms} ms`,
  ]);
  const header = ['FROM', 'TO', 'VERDICT', 'PEER', 'REASON', 'TIME'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
