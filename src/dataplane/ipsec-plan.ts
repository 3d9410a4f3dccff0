// IPsec between nodes (issue 12, part 2), the pure part: the swanctl.conf that gives a node one IKEv2 connection
// per peer node (tunnel mode, ESP in UDP, the peers' pod CIDRs as traffic selectors), the strongswan.conf of the
// node's own charon (ipsec-sas.ts reads the SAs back). No I/O: ipsec.ts writes and runs.
//
// Every value is checked before it is written (connection names are bare words in swanctl.conf, so a node name
// with braces, quotes or newlines could add config of its own); the PSK is written base64-encoded ("0s…"), so no
// character of it can escape its value. Choices, as measured with strongSwan 5.9.8 on these machines:
// - close_action = none, not start: every node initiates its own connections whenever it loads them
//   (start_action = start), and a charon that stops sends DELETE; with close_action = start the peer re-initiates
//   into the stopped node, and that attempt completes after the restarted node's own, leaving two IKE_SAs per
//   pair (and with unique = replace the two sides then delete each other's SA forever). A restarted charon's
//   INITIAL_CONTACT removes the peer's stale SAs (unique = no honours it); a peer that vanishes without DELETE is
//   found by DPD (dpd_delay, bounded by the retransmit settings in strongswan.conf) and re-initiated.
// - IKE_SAs are rekeyed (rekey_time), not reauthenticated (reauth_time = 0): an IKEv2 rekey replaces the SA
//   without a gap; make_before_break is set in strongswan.conf should reauthentication be turned on.
// - aes128gcm16-prfsha256-x25519: the openssl plugin here does X25519 (negotiated as CURVE_25519).
import { type Cidr, cidrsOverlap, formatCidr, formatIp, parseCidr, parseIp } from '../model/cidr.js';

export interface IpsecPeer {
  readonly node: string;
  /** The peer node's underlay address (IKE and ESP-in-UDP go there). */
  readonly address: string;
  readonly podCIDRs: readonly string[];
}

export interface IpsecConfig {
  readonly node: string;
  readonly address: string;
  readonly podCIDRs: readonly string[];
  readonly peers: readonly IpsecPeer[];
  /** The cluster's pre-shared key (at least 16 characters); never printed in an error. */
  readonly psk: string;
}

/** ESP in the kernel (xfrm), or in charon's userspace (kernel-libipsec, through the TUN device ipsec0). */
export type IpsecMode = 'kernel' | 'libipsec';

export const IKE_PROPOSALS = 'aes128gcm16-prfsha256-x25519';
export const ESP_PROPOSALS = 'aes128gcm16';
export const MIN_PSK_LENGTH = 16;

export class IpsecConfigError extends Error {
  override readonly name = 'IpsecConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid IPsec config: ${problems.join('; ')}`);
  }
}

// A Kubernetes node name (a DNS-1123 subdomain): nothing in it can open, close or quote a swanctl.conf section.
const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The connection (and child) name of a peer node. strongSwan reads a dot in a section name as a separator of
 * its key path, so dots become underscores (which node names never contain: the mapping stays one-to-one).
 */
export function connectionName(node: string): string {
  return node.replaceAll('.', '_');
}

const show = (v: unknown) => JSON.stringify(v);

interface Claim {
  readonly who: string;
  readonly cidr: Cidr;
}

function checkNode(field: string, node: string, problems: string[]): void {
  if (typeof node !== 'string' || node.length > 253 || !NODE_NAME.test(node))
    problems.push(`${field}: ${show(node)} is not a node name (lowercase letters, digits, '-' and '.')`);
}

function checkAddress(field: string, address: string, problems: string[]): string {
  try {
    return formatIp(parseIp(address));
  } catch {
    problems.push(`${field}: ${show(address)} is not an IP address`);
    return '';
  }
}

/** The CIDRs canonical; each must be a network (no host bits) that no CIDR claimed before overlaps. */
function checkCidrs(field: string, list: readonly string[], claimed: Claim[], problems: string[]): string[] {
  if (list.length === 0) problems.push(`${field}: empty (nothing to tunnel)`);
  return list.flatMap((text, i) => {
    let cidr: Cidr;
    try {
      cidr = parseCidr(text, { strict: true });
    } catch (err) {
      problems.push(`${field}[${i}]: ${show(text)}: ${(err as Error).message}`);
      return [];
    }
    const clash = claimed.find((o) => cidrsOverlap(o.cidr, cidr));
    if (clash)
      problems.push(`${field}[${i}]: ${show(text)} overlaps ${formatCidr(clash.cidr)} of ${clash.who}`);
    claimed.push({ who: field.replace(/\.podCIDRs$|^podCIDRs$/, '') || 'this node', cidr });
    return [formatCidr(cidr)];
  });
}

/**
 * Checks the whole config and reports every problem at once (IpsecConfigError, each problem naming its field
 * and value); returns the config with addresses and CIDRs canonical.
 */
export function checkIpsecConfig(c: IpsecConfig): IpsecConfig {
  const problems: string[] = [];
  checkNode('node', c.node, problems);
  const address = checkAddress('address', c.address, problems);
  const claimed: Claim[] = [];
  const podCIDRs = checkCidrs('podCIDRs', c.podCIDRs, claimed, problems);
  if (typeof c.psk !== 'string' || c.psk.length < MIN_PSK_LENGTH)
    problems.push(`psk: must be at least ${MIN_PSK_LENGTH} characters (got ${c.psk?.length ?? 0})`);
  const names = new Map<string, string>([[c.node, 'this node']]);
  const addresses = new Map<string, string>([[address, "this node's"]]);
  const peers = c.peers.map((p, i): IpsecPeer => {
    const field = `peers[${i}]`;
    checkNode(`${field}.node`, p.node, problems);
    const sameName = names.get(p.node);
    if (sameName) problems.push(`${field}.node: ${show(p.node)} is ${sameName}`);
    names.set(p.node, `also ${field}`);
    const peerAddress = checkAddress(`${field}.address`, p.address, problems);
    const sameAddress = peerAddress ? addresses.get(peerAddress) : undefined;
    if (sameAddress) problems.push(`${field}.address: ${show(p.address)} is ${sameAddress}`);
    if (peerAddress) addresses.set(peerAddress, `also ${field}'s`);
    if (peerAddress && address && parseIp(peerAddress).family !== parseIp(address).family)
      problems.push(`${field}.address: ${show(p.address)} is not of the family of ${show(c.address)}`);
    const cidrs = checkCidrs(`${field}.podCIDRs`, p.podCIDRs, claimed, problems);
    return { node: p.node, address: peerAddress, podCIDRs: cidrs };
  });
  if (problems.length > 0) throw new IpsecConfigError(problems);
  return { ...c, address, podCIDRs, peers };
}

/** A double-quoted swanctl/strongswan.conf value; the callers only pass checked text, this keeps it so. */
function q(value: string): string {
  if (/["\\\n\r{}#]/.test(value)) throw new Error(`refusing to write ${show(value)} into strongSwan config`);
  return `"${value}"`;
}

function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function connectionBlock(c: IpsecConfig, p: IpsecPeer): string[] {
  const name = connectionName(p.node);
  return [
    `  ${name} {`,
    '    version = 2',
    `    local_addrs = ${q(c.address)}`,
    `    remote_addrs = ${q(p.address)}`,
    '    encap = yes',
    '    mobike = no',
    '    unique = no',
    '    keyingtries = 0',
    '    dpd_delay = 5s',
    '    rekey_time = 4h',
    '    reauth_time = 0',
    `    proposals = ${q(IKE_PROPOSALS)}`,
    '    local {',
    '      auth = psk',
    `      id = ${q(c.address)}`,
    '    }',
    '    remote {',
    '      auth = psk',
    `      id = ${q(p.address)}`,
    '    }',
    '    children {',
    `      ${name} {`,
    `        local_ts = ${q(c.podCIDRs.join(','))}`,
    `        remote_ts = ${q(p.podCIDRs.join(','))}`,
    `        esp_proposals = ${q(ESP_PROPOSALS)}`,
    '        mode = tunnel',
    '        rekey_time = 1h',
    '        start_action = start',
    '        dpd_action = restart',
    '        close_action = none',
    '      }',
    '    }',
    '  }',
  ];
}

function secretBlock(c: IpsecConfig, p: IpsecPeer): string[] {
  return [
    `  ike-${connectionName(p.node)} {`,
    `    secret = ${q(`0s${base64(c.psk)}`)}`,
    `    id-local = ${q(c.address)}`,
    `    id-remote = ${q(p.address)}`,
    '  }',
  ];
}

/** swanctl.conf for node `c.node`: one connection per peer, named by connectionName(peer.node). Throws IpsecConfigError. */
export function renderSwanctlConf(config: IpsecConfig): string {
  const c = checkIpsecConfig(config);
  return [
    `# Written by Palisade for node ${c.node}: one IKEv2 connection per peer node. Do not edit.`,
    'connections {',
    ...c.peers.flatMap((p) => connectionBlock(c, p)),
    '}',
    'secrets {',
    ...c.peers.flatMap((p) => secretBlock(c, p)),
    '}',
    '',
  ].join('\n');
}

const PLUGINS = 'random nonce openssl kdf hmac sha2 pem pkcs1 x509 pubkey';

/** The plugins charon loads: kernel-libipsec (before kernel-netlink, so it handles the SAs) in libipsec mode. */
export function charonPlugins(mode: IpsecMode): string {
  const kernel = mode === 'libipsec' ? 'kernel-libipsec kernel-netlink' : 'kernel-netlink';
  return `${PLUGINS} ${kernel} socket-default vici`;
}

/**
 * strongswan.conf for one node's charon (and the swanctl that talks to it): only the plugins it needs, its vici
 * socket at `viciSocket` (an absolute path of at most 100 plain characters: a unix socket path), log to stderr
 * without the per-packet lines, and retransmits short enough that DPD finds a dead peer in about 20 s.
 */
export function renderStrongswanConf(o: { readonly viciSocket: string; readonly mode: IpsecMode }): string {
  if (!/^\/[A-Za-z0-9._/+-]{1,99}$/.test(o.viciSocket))
    throw new IpsecConfigError([
      `viciSocket: ${show(o.viciSocket)} is not an absolute path of plain characters`,
    ]);
  const uri = q(`unix://${o.viciSocket}`);
  return [
    '# Written by Palisade for one node network namespace. Do not edit.',
    'charon {',
    '  load_modular = no',
    `  load = ${q(charonPlugins(o.mode))}`,
    '  install_routes = yes',
    '  install_virtual_ip = no',
    '  make_before_break = yes',
    '  retransmit_timeout = 2.0',
    '  retransmit_base = 1.4',
    '  retransmit_tries = 4',
    '  filelog {',
    '    stderr {',
    '      default = 1',
    '      net = 0',
    '      enc = 0',
    '      time_format = %Y-%m-%dT%H:%M:%S',
    '    }',
    '  }',
    '  plugins {',
    '    vici {',
    `      socket = ${uri}`,
    '    }',
    '  }',
    '}',
    'swanctl {',
    `  load = ${q(PLUGINS)}`,
    `  socket = ${uri}`,
    '}',
    '',
  ].join('\n');
}
