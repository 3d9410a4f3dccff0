import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parseEncryptionFlags } from './agent-encryption.js';

describe('agent encryption flags', () => {
  it('off by default; WireGuard and IPsec with their defaults', () => {
    assert.equal(parseEncryptionFlags({}), undefined);
    assert.deepEqual(parseEncryptionFlags({ encryption: 'wireguard' }), {
      backend: 'wireguard',
      iface: 'palisade-wg',
      listenPort: 51820,
      keyFile: '/var/lib/palisade/wireguard.key',
      logFile: '/var/log/palisade/wireguard-go.log',
    });
    assert.deepEqual(parseEncryptionFlags({ encryption: 'ipsec' }), {
      backend: 'ipsec',
      pskFile: '/etc/palisade/ipsec/psk',
      dir: '/var/lib/palisade/ipsec',
      logFile: '/var/log/palisade/charon.log',
    });
    assert.equal(
      (
        parseEncryptionFlags({ encryption: 'wireguard', 'wireguard-rotate-every': '12h' }) as {
          rotateEveryMs: number;
        }
      ).rotateEveryMs,
      12 * 3_600_000,
    );
  });

  it('bad values are refused, naming the flag and the value', () => {
    const refused = (flags: Record<string, string>, re: RegExp) =>
      assert.throws(() => parseEncryptionFlags(flags), re);
    refused({ encryption: 'ipsecc' }, /--encryption: "ipsecc" must be one of off, wireguard, ipsec/);
    refused(
      { encryption: 'wireguard', 'wireguard-interface': 'a-name-far-too-long' },
      /--wireguard-interface/,
    );
    refused({ encryption: 'wireguard', 'wireguard-interface': 'wg/0' }, /"wg\/0"/);
    refused({ encryption: 'wireguard', 'wireguard-port': '70000' }, /--wireguard-port: "70000"/);
    refused({ encryption: 'wireguard', 'wireguard-port': '65535' }, /no next port/);
    refused({ encryption: 'wireguard', 'wireguard-rotate-every': '5s' }, /--wireguard-rotate-every: "5s"/);
    refused({ encryption: 'ipsec', 'ipsec-dir': '/run/palisade/ipsec' }, /--ipsec-dir: .* under \/run/);
  });

  it('durations: 0, minutes, hours, days', () => {
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration('7d'), 604_800_000);
    for (const bad of ['', '1', '1s', '01h', '-1h', '1.5h', 'h'])
      assert.equal(parseDuration(bad), undefined, bad);
  });
});
