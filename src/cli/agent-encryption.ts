// `palisade agent`'s encryption flags (issue 12), parsed into WireguardSettings (or none when off).
import type { WireguardSettings } from '../agent/encryption.js';
import { DEFAULT_WIREGUARD_PORT } from '../model/wireguard.js';
import { UsageError } from './usage.js';

export const ENCRYPTION_BACKENDS = ['off', 'wireguard'] as const;

export const ENCRYPTION_USAGE = `  --encryption off|wireguard  encrypt pod traffic between nodes; strict: what would reach another node's pods
                            outside the tunnel is dropped (default off)
  --wireguard-interface NAME  the tunnel's interface, at most 15 characters (default palisade-wg)
  --wireguard-key-file PATH   this node's private key, made on first start, kept across restarts
                            (default /var/lib/palisade/wireguard.key)
  --wireguard-port PORT       UDP port the tunnel listens on, published on the Node (default ${DEFAULT_WIREGUARD_PORT})
  --wireguard-log PATH        wireguard-go's output when the kernel has no WireGuard
                            (default /var/log/palisade/wireguard-go.log)`;

export const ENCRYPTION_OPTIONS: {
  readonly encryption: { type: 'string'; default: string };
  readonly 'wireguard-interface': { type: 'string'; default: string };
  readonly 'wireguard-key-file': { type: 'string'; default: string };
  readonly 'wireguard-port': { type: 'string'; default: string };
  readonly 'wireguard-log': { type: 'string'; default: string };
} = {
  encryption: { type: 'string', default: 'off' },
  'wireguard-interface': { type: 'string', default: 'palisade-wg' },
  'wireguard-key-file': { type: 'string', default: '/var/lib/palisade/wireguard.key' },
  'wireguard-port': { type: 'string', default: String(DEFAULT_WIREGUARD_PORT) },
  'wireguard-log': { type: 'string', default: '/var/log/palisade/wireguard-go.log' },
};

export interface EncryptionFlags {
  readonly encryption?: string;
  readonly 'wireguard-interface'?: string;
  readonly 'wireguard-key-file'?: string;
  readonly 'wireguard-port'?: string;
  readonly 'wireguard-log'?: string;
}

/** Linux interface names: 1-15 bytes, no '/', ':' or whitespace. */
const IFACE_RE = /^[A-Za-z0-9_.-]{1,15}$/;

export function parseEncryptionFlags(v: EncryptionFlags): WireguardSettings | undefined {
  const backend = v.encryption ?? 'off';
  if (backend === 'off') return undefined;
  if (backend !== 'wireguard')
    throw new UsageError(`--encryption: "${backend}" must be one of ${ENCRYPTION_BACKENDS.join(', ')}`);
  const iface = v['wireguard-interface'] ?? 'palisade-wg';
  if (!IFACE_RE.test(iface))
    throw new UsageError(
      `--wireguard-interface: "${iface}" must be 1-15 letters, digits, '_', '.' or '-' (a Linux interface name)`,
    );
  const port = Number(v['wireguard-port'] ?? DEFAULT_WIREGUARD_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`--wireguard-port: "${v['wireguard-port']}" must be a whole number 1-65535`);
  return {
    iface,
    listenPort: port,
    keyFile: v['wireguard-key-file'] ?? ENCRYPTION_OPTIONS['wireguard-key-file'].default,
    logFile: v['wireguard-log'] ?? ENCRYPTION_OPTIONS['wireguard-log'].default,
  };
}
