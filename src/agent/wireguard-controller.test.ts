import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { NodeInfo } from '../model/cluster.js';
import { formatWireguardAnnotation, type WireguardPeer } from '../model/wireguard.js';
import { WireguardController } from './wireguard-controller.js';
import { generateKeyPair } from './wireguard-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-wgctl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fake API and device (the real ones: test/wireguard-device.test.ts); they record what they were asked. */
function setup() {
  const published: string[] = [];
  const applied: (readonly WireguardPeer[])[] = [];
  const c = new WireguardController({
    node: 'a',
    keyFile: join(dir, `${Math.random()}.key`),
    listenPort: 51820,
    publish: async (v) => void published.push(v),
    device: { apply: async (p) => void applied.push(p) },
  });
  return { c, published, applied };
}

const other = (name: string, ip: string, cidr: string, wireguard?: string): NodeInfo => ({
  name,
  ips: [ip],
  podCIDRs: [cidr],
  ...(wireguard ? { wireguard } : {}),
});

describe('the WireGuard controller', () => {
  it('publishes its key on its Node until the Node carries it, and keeps a new key it made', async () => {
    const { c, published } = setup();
    assert.equal(c.status.newKey, 'missing');
    const s = await c.sync([other('a', '198.18.0.11', '10.244.0.0/24')]);
    assert.equal(s.published, false);
    assert.equal(published.length, 1);
    const mine = published[0]!;
    assert.deepEqual(JSON.parse(mine), { publicKey: s.publicKey, port: 51820 });
    const again = await c.sync([other('a', '198.18.0.11', '10.244.0.0/24', mine)]);
    assert.equal(again.published, true);
    assert.equal(published.length, 1, 'nothing written when the Node has it');
    await c.sync([other('a', '198.18.0.11', '10.244.0.0/24', '{"publicKey":"x","port":1}')]);
    assert.equal(published.length, 2, 'someone changed it: written back');
  });

  it('peers follow the other nodes, and the device is told only when they change; broken ones are reported', async () => {
    const { c, applied } = setup();
    const b = other(
      'b',
      '198.18.0.12',
      '10.244.1.0/24',
      formatWireguardAnnotation({ publicKey: generateKeyPair().publicKey, port: 51820 }),
    );
    const broken = other('c', '198.18.0.13', '10.244.2.0/24', 'nope');
    const s = await c.sync([other('a', '198.18.0.11', '10.244.0.0/24'), b, broken]);
    assert.deepEqual(
      s.peers.map((p) => p.node),
      ['b'],
    );
    assert.equal(s.problems.length, 1);
    assert.match(s.problems[0]!, /^node c: annotation palisade\.dev\/wireguard: "nope" is not JSON$/);
    await c.sync([other('a', '198.18.0.11', '10.244.0.0/24'), b, broken]);
    assert.equal(applied.length, 1, 'unchanged peers: the device is not touched');
    await c.sync([other('a', '198.18.0.11', '10.244.0.0/24')]);
    assert.deepEqual(applied.at(-1), [], 'b gone: no peers');
  });
});
