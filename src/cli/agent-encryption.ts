// `palisade agent`'s encryption flags (issue 12), parsed into the backend's settings (none when off).
import type { IpsecSettings } from '../agent/ipsec-encryption.js';
import type { WireguardSettings } from '../agent/wireguard-encryption.js';
import { INTERFACE_NAME } from '../model/host-endpoint-parse.js';
import { DEFAULT_WIREGUARD_PORT } from '../model/wireguard.js';
import { UsageError } from './usage.js';

export const ENCRYPTION_BACKENDS = ['off', 'wireguard', 'ipsec'] as const;

export const ENCRYPTION_USAGE = `  --encryption off|wireguard|ipsec  encrypt pod traffic between nodes; strict: what would reach another node's
                            pods outside the tunnel is dropped (default off)
  --wireguard-interface NAME  the tunnel's interface, at most 15 characters (default palisade-wg)
  --wireguard-key-file PATH   this node's private key, made on first start, kept across restarts
                            (default /var/lib/palisade/wireguard.key)
  --wireguard-port PORT       UDP port the tunnel listens on, published on the Node (default ${DEFAULT_WIREGUARD_PORT})
  --wireguard-log PATH        wireguard-go's output when the kernel has no WireGuard
                            (default /var/log/palisade/wireguard-go.log)
  --wireguard-rotate-every DURATION  a new key this often, with overlap: 30m, 12h, 7d... (default 0: only on
                            demand, palisade encryption rotate)
  --ipsec-psk-file PATH       IPsec's pre-shared key, one line of at least 16 characters (a Secret's key mounted
                            as a file; re-read at every sync) (default /etc/palisade/ipsec/psk)
  --ipsec-dir DIR             charon's config and socket, not under /run (default /var/lib/palisade/ipsec)
  --ipsec-log PATH            charon's output (default /var/log/palisade/charon.log)`;

const DEFAULTS = {
  encryption: 'off',
  'wireguard-interface': 'palisade-wg',
  'wireguard-key-file': '/var/lib/palisade/wireguard.key',
  'wireguard-port': String(DEFAULT_WIREGUARD_PORT),
  'wireguard-log': '/var/log/palisade/wireguard-go.log',
  'wireguard-rotate-every': '0',
  'ipsec-psk-file': '/etc/palisade/ipsec/psk',
  'ipsec-dir': '/var/lib/palisade/ipsec',
  'ipsec-log': '/var/log/palisade/charon.log',
} as const;

type Flag = keyof typeof DEFAULTS;

export const ENCRYPTION_OPTIONS = Object.fromEntries(
  Object.entries(DEFAULTS).map(([k, v]) => [k, { type: 'string', default: v }]),
) as Record<Flag, { type: 'string'; default: string }>;

export type EncryptionFlags = Partial<Record<Flag, string>>;

export function parseEncryptionFlags(v: EncryptionFlags): WireguardSettings | IpsecSettings | undefined {
  const get = (k: Flag) => v[k] ?? DEFAULTS[k];
  const backend = get('encryption');
  if (backend === 'off') return undefined;
  if (backend === 'ipsec') {
    const dir = get('ipsec-dir');
    if (/^\/(var\/)?run(\/|$)/.test(dir))
      throw new UsageError(`--ipsec-dir: "${dir}" is under /run, which charon's private /run would hide`);
    return { backend, pskFile: get('ipsec-psk-file'), dir, logFile: get('ipsec-log') };
  }
  if (backend !== 'wireguard')
    throw new UsageError(`--encryption: "${backend}" must be one of ${ENCRYPTION_BACKENDS.join(', ')}`);
  const iface = get('wireguard-interface');
  if (!INTERFACE_NAME.test(iface))
    throw new UsageError(
      `--wireguard-interface: "${iface}" must be 1-15 letters, digits, '_', '.' or '-' (a Linux interface name)`,
    );
  const port = Number(get('wireguard-port'));
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--wireguard-port: "${get('wireguard-port')}" must be a whole number 1-65535`);
  if (port === 65535)
    throw new UsageError(
      '--wireguard-port: 65535 leaves no next port for key rotation (it uses PORT and PORT+1)',
    );
  const every = parseDuration(get('wireguard-rotate-every'));
  if (every === undefined)
    throw new UsageError(
      `--wireguard-rotate-every: "${get('wireguard-rotate-every')}" must be 0 or a duration like 30m, 12h, 7d (at least 1m)`,
    );
  return {
    backend,
    iface,
    listenPort: port,
    keyFile: get('wireguard-key-file'),
    logFile: get('wireguard-log'),
    ...(every > 0 ? { rotateEveryMs: every } : {}),
  };
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "0", or N followed by m, h or d (at least a minute): milliseconds; undefined when it is neither. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const m = /^([1-9]\d{0,5})([mhd])$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}
