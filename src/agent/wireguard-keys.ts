// A node's WireGuard key pair (issue 12): X25519, as `wg genkey` / `wg pubkey` make them, kept in one file on the
// node, owner-readable only. The private key never leaves this module's callers on the node: only the public key
// is published (src/model/wireguard.ts), and neither is logged.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { isWireguardKey } from '../model/wireguard.js';
import { writeFileAtomic } from '../util/atomic-file.js';

export interface WireguardKeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

// The DER prefix of a PKCS#8 X25519 private key and of an SPKI X25519 public key; the 32 raw bytes follow.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX_LENGTH = 12;

/** The public key of a private key, both as wg prints them (base64 of 32 bytes). */
export function publicKeyOf(privateKey: string): string {
  if (!isWireguardKey(privateKey)) throw new Error('not a WireGuard private key (base64 of 32 bytes)');
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, Buffer.from(privateKey, 'base64')]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return spki.subarray(SPKI_PREFIX_LENGTH).toString('base64');
}

export function generateKeyPair(): WireguardKeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const raw = der.subarray(PKCS8_PREFIX.length).toString('base64');
  return { privateKey: raw, publicKey: publicKeyOf(raw) };
}

export interface LoadedKey extends WireguardKeyPair {
  /** Why a new pair was made: the file was missing, or held no key (it was moved aside to PATH.bad). */
  readonly created?: 'missing' | 'unreadable';
}

/**
 * The node's key pair from `path`, kept across restarts; a new one when the file is missing, or when it holds no
 * key (moved aside, so an operator can look at it). Written atomically with mode 0600.
 */
export function loadOrCreateKey(path: string): LoadedKey {
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8').trim();
    if (isWireguardKey(text)) return { privateKey: text, publicKey: publicKeyOf(text) };
    renameSync(path, `${path}.bad`);
    return { ...writeNew(path), created: 'unreadable' };
  }
  return { ...writeNew(path), created: 'missing' };
}

function writeNew(path: string): WireguardKeyPair {
  const pair = generateKeyPair();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileAtomic(path, `${pair.privateKey}\n`, 0o600);
  return pair;
}
