import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { podMtu, tunnelOverhead } from './tunnel-mtu.js';

describe('tunnel MTU', () => {
  it('the overhead per tunnel and underlay family, and what pods get', () => {
    assert.equal(tunnelOverhead('wireguard', 4), 60);
    assert.equal(tunnelOverhead('wireguard', 6), 80);
    assert.equal(podMtu('wireguard', 1500, [4]), 1440);
    assert.equal(podMtu('wireguard', 1500, [4, 6]), 1420, 'the worse of the two');
    assert.equal(podMtu('wireguard', 9000, [6]), 8920);
    assert.equal(tunnelOverhead('ipsec', 4), 65);
    assert.equal(podMtu('ipsec', 1500, [4]), 1435);
  });

  it('ESP: the largest inner packet at that MTU fits the underlay whatever its padding', () => {
    for (const family of [4, 6] as const) {
      const inner = podMtu('ipsec', 1500, [family]);
      for (let len = inner - 3; len <= inner; len++) {
        const payload = len + 2; // + pad length and next header
        const padded = payload + ((4 - (payload % 4)) % 4);
        const outer = (family === 4 ? 20 : 40) + 8 + 8 + 8 + padded + 16;
        assert.ok(outer <= 1500, `IPv${family} inner ${len}: ${outer} bytes on the wire`);
      }
    }
  });
});
