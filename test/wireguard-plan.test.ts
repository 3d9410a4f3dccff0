// The `wg set` plan (src/dataplane/wireguard-plan.ts) against a real WireGuard device: wireguard-go in a private
// netns, each planned change applied with `wg`, read back with `wg show dump` and parsed: the device must hold
// what was desired, and planning again must give nothing to do. The interface name is unique per run: the
// userspace socket directory (/var/run/wireguard) is shared by every namespace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '../src/agent/wireguard-keys.js';
import { parseWgDump, wgSetArgs } from '../src/dataplane/wireguard-plan.js';
import type { WireguardPeer } from '../src/model/wireguard.js';
import { createFixture, runner } from './helpers/netns.js';

const fx = createFixture('pwg');
const iface = `${fx.prefix}0`.slice(0, 15);
let netns = '';
let pid: number | undefined;

before(async () => {
  netns = await fx.netns('a');
  const child = spawn('ip', ['netns', 'exec', `${fx.prefix}-a`, 'wireguard-go', '-f', iface], {
    stdio: 'ignore',
  });
  pid = child.pid;
  for (let i = 0; i < 50; i++) {
    const out = await runner.run(['ip', '-j', 'link', 'show'], { netns });
    if (out.stdout.includes(`"${iface}"`)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const key = join(fx.tmp, 'wg.key');
  writeFileSync(key, `${generateKeyPair().privateKey}\n`, { mode: 0o600 });
  await runner.run(['wg', 'set', iface, 'private-key', key, 'listen-port', '51820'], { netns });
});
after(async () => {
  if (pid) process.kill(pid, 'SIGTERM');
  await fx.cleanup();
});

const peer = (node: string, endpoint: string, allowedIPs: string[]): WireguardPeer => ({
  node,
  publicKey: generateKeyPair().publicKey,
  endpoint,
  allowedIPs,
});

async function device() {
  return parseWgDump((await runner.run(['wg', 'show', iface, 'dump'], { netns })).stdout);
}

async function converge(desired: { listenPort: number; peers: WireguardPeer[] }): Promise<void> {
  const args = wgSetArgs(iface, await device(), desired);
  if (args.length > 0) await runner.run(['wg', ...args], { netns });
  const now = await device();
  assert.equal(now.listenPort, desired.listenPort);
  assert.deepEqual(
    now.peers.map((p) => [p.publicKey, p.endpoint, [...p.allowedIPs].sort()]).sort(),
    desired.peers.map((p) => [p.publicKey, p.endpoint, [...p.allowedIPs].sort()]).sort(),
  );
  assert.deepEqual(wgSetArgs(iface, now, desired), [], 'planning again: nothing to do');
}

describe('wg set plans on a real WireGuard device (wireguard-go)', () => {
  const b = peer('b', '198.18.0.12:51820', ['10.244.1.0/24', '10.244.9.0/24']);
  const c = peer('c', '198.18.0.13:51820', ['10.244.2.0/24']);
  it('peers added', () => converge({ listenPort: 51820, peers: [b, c] }));
  it('a peer moved and gave up a CIDR (replaced, not added to), another gone, the port changed', () =>
    converge({
      listenPort: 51821,
      peers: [{ ...b, endpoint: '198.18.0.22:51820', allowedIPs: ['10.244.1.0/24'] }],
    }));
  it('every peer gone', () => converge({ listenPort: 51821, peers: [] }));
});
