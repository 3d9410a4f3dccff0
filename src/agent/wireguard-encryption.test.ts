// The WireGuard backend's decisions with fake devices (the real ones: test/wireguard-device, test/lab-encryption):
// the device made once the node is known, with the underlay's MTU less the overhead and the tunnel address;
// made again when gone; a rotation on the second name and port, publishing the new key, moving each peer's
// routes when it shakes hands with the new interface, and ending on it with the new key file in place.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createFakeRunner } from '../dataplane/runner.js';
import type { WireguardDevice, WireguardDeviceOptions } from '../dataplane/wireguard.js';
import type { NodeInfo } from '../model/cluster.js';
import { parseWireguardAnnotation, WIREGUARD_ANNOTATION, type WireguardPeer } from '../model/wireguard.js';
import { createNullLogger } from '../util/log.js';
import { createWireguardEncryption, wireguardIfaces } from './wireguard-encryption.js';
import { generateKeyPair } from './wireguard-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-wg-enc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface FakeDevice extends WireguardDevice {
  readonly options: WireguardDeviceOptions;
  readonly applied: { peers: string[]; routed: string[] }[];
  routedHere: string[];
  handshakes: Set<string>;
  gone: boolean;
  stopped: boolean;
}

function fakeDevices() {
  const made: FakeDevice[] = [];
  const start = async (o: WireguardDeviceOptions): Promise<WireguardDevice> => {
    const d: FakeDevice = {
      options: o,
      mode: 'userspace',
      applied: [],
      routedHere: [],
      handshakes: new Set(),
      gone: false,
      stopped: false,
      async apply(peers: readonly WireguardPeer[], opts = {}) {
        const routed = opts.routed ?? (() => true);
        d.applied.push({ peers: peers.map((p) => p.node), routed: peers.filter(routed).map((p) => p.node) });
      },
      async state() {
        return {
          publicKey: '',
          listenPort: o.listenPort,
          peers: [...d.handshakes].map((publicKey) => ({
            publicKey,
            allowedIPs: [],
            latestHandshake: 1,
            rxBytes: 0,
            txBytes: 0,
          })),
        };
      },
      async alive() {
        return !d.gone;
      },
      async removePeer() {},
      async routeHere(cidrs) {
        d.routedHere.push(...cidrs);
      },
      async stop() {
        d.stopped = true;
      },
    };
    made.push(d);
    return d;
  };
  return { made, start };
}

const PEER_KEY = generateKeyPair().publicKey;

function cluster(self: string | undefined): NodeInfo[] {
  return [
    {
      name: 'node-1',
      ips: ['198.18.0.11'],
      labels: {},
      podCIDRs: ['10.244.0.0/24'],
      ...(self === undefined ? {} : { wireguard: self }),
    },
    {
      name: 'node-2',
      ips: ['198.18.0.12'],
      labels: {},
      podCIDRs: ['10.244.1.0/24'],
      wireguard: JSON.stringify({ publicKey: PEER_KEY, port: 51820 }),
    },
  ];
}

function setUp(name: string) {
  const devices = fakeDevices();
  const published: string[] = [];
  const keyFile = join(dir, `${name}.key`);
  const enc = createWireguardEncryption(
    'node-1',
    {
      backend: 'wireguard',
      iface: 'pw-node-1',
      keyFile,
      listenPort: 51820,
      logFile: join(dir, `${name}.log`),
    },
    {
      runner: createFakeRunner(),
      log: createNullLogger(),
      annotate: async (key, value) => {
        assert.equal(key, WIREGUARD_ANNOTATION);
        published.push(value);
      },
      counters: async () => new Map(),
      startDevice: devices.start,
      linkMtu: async () => 1500,
    },
  );
  return { enc, devices, published, keyFile };
}

describe('the WireGuard backend', () => {
  it('makes the device once its node is known: MTU from the underlay, the tunnel address, the peers', async () => {
    const { enc, devices, published } = setUp('first');
    enc.kick([]);
    await enc.idle();
    assert.equal(devices.made.length, 0, 'no Node yet: nothing made');
    enc.kick(cluster(undefined));
    await enc.idle();
    const [d] = devices.made;
    assert.equal(d?.options.iface, 'pw-node-1');
    assert.equal(d?.options.mtu, 1440);
    assert.equal(d?.options.address, '10.244.0.0');
    assert.deepEqual(d?.applied.at(-1), { peers: ['node-2'], routed: ['node-2'] });
    assert.equal(published.length, 1, 'our key published');
    d!.gone = true;
    enc.kick(cluster(published[0]));
    await enc.idle();
    assert.equal(devices.made.length, 2, 'gone: made again');
    assert.ok(d!.stopped);
    assert.deepEqual(devices.made[1]?.applied.at(-1)?.routed, ['node-2'], 'and given its peers again');
    await enc.stop();
  });

  it('rotates on the other name and port: publishes, moves the peer on its handshake, ends on the new key', async () => {
    const { enc, devices, published, keyFile } = setUp('rotate');
    enc.kick(cluster(undefined));
    await enc.idle();
    const oldKey = parseWireguardAnnotation('node-1', published[0]!);
    assert.ok(oldKey.ok);
    const old = devices.made[0]!;
    const rotation = enc.rotate();
    // Wait for the new interface, then let the peer "shake hands" with it.
    for (let i = 0; i < 100 && devices.made.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    const fresh = devices.made[1]!;
    assert.equal(fresh.options.iface, wireguardIfaces('pw-node-1')[1]);
    assert.equal(fresh.options.listenPort, 51821);
    assert.equal(fresh.options.keyFile, `${keyFile}.next`);
    await new Promise((r) => setTimeout(r, 30));
    const next = parseWireguardAnnotation('node-1', published.at(-1)!);
    assert.ok(
      next.ok &&
        next.publication.port === 51821 &&
        next.publication.publicKey !== oldKey.publication.publicKey,
    );
    assert.deepEqual(fresh.routedHere, [], 'no route moves before the peer switched');
    assert.ok(!old.stopped, 'the old interface serves meanwhile');
    fresh.handshakes.add(PEER_KEY);
    const result = await rotation;
    assert.deepEqual(fresh.routedHere, ['10.244.1.0/24'], "the peer's routes moved on its handshake");
    assert.equal(result.timedOut, false);
    assert.ok(result.switched['node-2']! >= 0);
    assert.ok(old.stopped, 'the old interface went');
    assert.deepEqual(fresh.applied.at(-1)?.routed, ['node-2'], 'everything through the new one');
    assert.equal(result.publicKey, next.ok ? next.publication.publicKey : '');
    assert.match(
      readFileSync(keyFile, 'utf8'),
      /^[A-Za-z0-9+/]{43}=\n$/,
      'the new key file replaced the old',
    );
    const status = await enc.status();
    assert.equal(status.iface, wireguardIfaces('pw-node-1')[1]);
    assert.equal(status.port, 51821);
    const again = enc.rotate();
    await assert.rejects(enc.rotate(), /a key rotation is already under way/, 'one at a time');
    for (let i = 0; i < 100 && devices.made.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    devices.made[2]!.handshakes.add(PEER_KEY);
    const back = await again;
    assert.equal(back.timedOut, false);
    assert.equal((await enc.status()).iface, 'pw-node-1', 'back on the first name');
    await enc.stop();
  });
});
