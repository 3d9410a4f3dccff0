// The node's WireGuard keys against wireguard-tools itself: `wg pubkey` of our private keys is our public key,
// and our public key of `wg genkey`'s private keys is what `wg pubkey` says (setup.sh installs wg).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { generateKeyPair, publicKeyOf } from '../src/agent/wireguard-keys.js';
import { isWireguardKey } from '../src/model/wireguard.js';

const wg = (args: string[], input?: string) => execFileSync('wg', args, { input, encoding: 'utf8' }).trim();

describe('WireGuard keys agree with wireguard-tools', () => {
  it('wg pubkey of our private keys is our public key', () => {
    for (let i = 0; i < 5; i++) {
      const pair = generateKeyPair();
      assert.equal(wg(['pubkey'], pair.privateKey), pair.publicKey);
    }
  });

  it("our public key of wg genkey's private keys is wg pubkey's, and both are keys by our check", () => {
    for (let i = 0; i < 5; i++) {
      const priv = wg(['genkey']);
      const pub = wg(['pubkey'], priv);
      assert.ok(isWireguardKey(priv) && isWireguardKey(pub));
      assert.equal(publicKeyOf(priv), pub);
    }
  });
});
