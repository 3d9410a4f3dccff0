import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isWireguardKey } from '../model/wireguard.js';
import { generateKeyPair, loadOrCreateKey, publicKeyOf } from './wireguard-keys.js';

const hex64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const dir = mkdtempSync(join(tmpdir(), 'palisade-wgkeys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('WireGuard keys', () => {
  it('the public key of RFC 7748 §6.1 test vectors (X25519 with the base point, as wg pubkey computes it)', () => {
    assert.equal(
      publicKeyOf(hex64('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')),
      hex64('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'),
    );
    assert.equal(
      publicKeyOf(hex64('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb')),
      hex64('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'),
    );
  });

  it('a generated pair is two keys as wg prints them, and they belong together', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    assert.ok(isWireguardKey(a.privateKey) && isWireguardKey(a.publicKey));
    assert.equal(publicKeyOf(a.privateKey), a.publicKey);
    assert.notEqual(a.privateKey, b.privateKey);
  });

  it('kept across restarts in a 0600 file; a new one when missing or unreadable (the old moved aside)', () => {
    const path = join(dir, 'wg.key');
    const first = loadOrCreateKey(path);
    assert.equal(first.created, 'missing');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const again = loadOrCreateKey(path);
    assert.deepEqual(again, { privateKey: first.privateKey, publicKey: first.publicKey });
    writeFileSync(path, 'garbage\n');
    const fresh = loadOrCreateKey(path);
    assert.equal(fresh.created, 'unreadable');
    assert.notEqual(fresh.privateKey, first.privateKey);
    assert.equal(readFileSync(`${path}.bad`, 'utf8'), 'garbage\n');
  });

  it('refuses what is not a private key', () => {
    assert.throws(() => publicKeyOf('abc'), /not a WireGuard private key/);
  });
});
