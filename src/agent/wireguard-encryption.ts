// WireGuard between nodes in the agent (issue 12): the controller (wireguard-controller.ts) driven by the
// datastore's nodes; the device (src/dataplane/wireguard.ts) made on the first sync that knows this node (its
// address gives the underlay's family and MTU, its pod CIDR the tunnel address), and made again when it is
// found gone; status: mode, key age, each peer's handshake age, the strict drops counted against each node.
//
// Key rotation, with overlap: a WireGuard interface has one key, and a peer accepts a node's packets under one
// key only (its allowed IPs name one peer per source), so a new key gets a second interface beside the old one,
// on the other of the two ports (--wireguard-port and the next). The new key is published; each peer, seeing
// it, moves its entry for this node to the new key and port at once and, by keepalive, shakes hands with the
// new interface. From then on that peer's packets arrive there; ours to that peer move to the new interface as
// soon as it shows that peer's handshake (looked at every ROTATION_POLL_MS): until then the old one carries
// them, which the peer still accepts only until its switch, so that direction can lose up to about one poll
// (measured: docs/benchmarks.md). Nothing is ever sent in clear: the strict rules accept both interfaces.
// Once every peer has switched (or ROTATION_TIMEOUT_MS passed: a peer that is down learns the key when it is
// back), the old interface goes and the new key file replaces the old one.
import { renameSync, rmSync, statSync } from 'node:fs';
import type { Runner } from '../dataplane/runner.js';
import { linkMtuOf, startWireguardDevice, type WireguardDevice } from '../dataplane/wireguard.js';
import type { NodeInfo } from '../model/cluster.js';
import { tunnelOverhead } from '../model/tunnel-mtu.js';
import type { WireguardPeer } from '../model/wireguard.js';
import { tunnelAddress, WIREGUARD_ANNOTATION } from '../model/wireguard.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { Logger } from '../util/log.js';
import {
  createProblemReporter,
  createSyncLoop,
  type Encryption,
  type EncryptionStatus,
  type EncryptionWarning,
  fileAgeSeconds,
  type RotationResult,
  strictDropsOf,
} from './encryption.js';
import { WireguardController } from './wireguard-controller.js';
import { generateKeyPair } from './wireguard-keys.js';

export interface WireguardSettings {
  readonly backend: 'wireguard';
  /** The tunnel's interface (at most 15 characters; unique on the machine when wireguard-go runs it). */
  readonly iface: string;
  /** The node's private key, kept across restarts (owner-readable only). */
  readonly keyFile: string;
  readonly listenPort: number;
  /** wireguard-go's output, when the kernel has no WireGuard. */
  readonly logFile: string;
  /** A new key this often (absent: only on demand, `palisade encryption rotate`). */
  readonly rotateEveryMs?: number;
}

export interface EncryptionDeps {
  readonly runner: Runner;
  readonly log: Logger;
  /** Writes an annotation on this node's Node (Datastore.annotateNode). */
  readonly annotate: (key: string, value: string) => Promise<void>;
  /** The strict rules' packet counters by comment (nft-counters.ts). */
  readonly counters: () => Promise<Map<string, number>>;
  readonly startDevice?: typeof startWireguardDevice;
  readonly linkMtu?: (address: string) => Promise<number>;
  readonly retryMs?: number;
  /** The problems as they change (on Kubernetes: Warning Events on the Nodes). */
  readonly warnings?: (warnings: readonly EncryptionWarning[]) => void;
}

/** A handshake older than this means the session is gone (WireGuard rejects keys older than 180 s). */
const SESSION_SECONDS = 180;

const ROTATION_POLL_MS = 10;
const ROTATION_TIMEOUT_MS = 30_000;
/**
 * A peer not switched after this long gets its entry on the new interface made afresh: that interface's own
 * first handshake, sent before the peer knew the key, was refused, and WireGuard waits 5 s (REKEY_TIMEOUT)
 * before its next; the peer's own handshake is normally first, but when it is lost only a new entry retries at once.
 */
const ROTATION_NUDGE_MS = 500;

/** The two names the tunnel's interface takes in turn across rotations: NAME and NAME~ (at most 15 bytes). */
export function wireguardIfaces(iface: string): [string, string] {
  return [iface, `${iface.slice(0, 14)}~`];
}

/** The WireGuard backend: Encryption, and key rotation on demand. */
export interface WireguardEncryption extends Encryption {
  rotate(): Promise<RotationResult>;
}

export function createWireguardEncryption(
  node: string,
  settings: WireguardSettings,
  deps: EncryptionDeps,
): WireguardEncryption {
  const log = deps.log.child({ component: 'wireguard' });
  const startDevice = deps.startDevice ?? startWireguardDevice;
  const linkMtu = deps.linkMtu ?? ((address: string) => linkMtuOf(deps.runner, address));
  let device: WireguardDevice | undefined;
  let made: { address: string | undefined; mtu: number } | undefined;
  /** Which of the two names and ports the device uses now (0: --wireguard-interface and --wireguard-port). */
  let slot = 0;
  const ifaces = wireguardIfaces(settings.iface);
  const nextKeyFile = `${settings.keyFile}.next`;
  /** While a key rotates: the new interface, and the peers (by public key) that have shaken hands with it. */
  let rotation: { device: WireguardDevice; switched: Set<string> } | undefined;
  let lastRotation: (RotationResult & { at: string }) | undefined;
  let peersNow: readonly WireguardPeer[] = [];
  /** The other nodes as of the last sync: whose strict drops status reports. */
  let others: string[] = [];
  const controller = new WireguardController({
    node,
    keyFile: settings.keyFile,
    listenPort: settings.listenPort,
    publish: (value) => deps.annotate(WIREGUARD_ANNOTATION, value),
    device: { apply: (peers) => applyPeers(peers) },
  });
  /** The peers on the device, or during a rotation on both: each routed by the one its peer accepts. */
  async function applyPeers(peers: readonly WireguardPeer[]): Promise<void> {
    peersNow = peers;
    if (!rotation) return device!.apply(peers);
    const moved = (p: WireguardPeer) => rotation!.switched.has(p.publicKey);
    // The new interface's routes first: a route moves by replace, never through a moment without one.
    await rotation.device.apply(peers, { routed: moved });
    await device!.apply(peers, { routed: (p) => !moved(p) });
  }

  if (controller.status.newKey)
    log.warn({ keyFile: settings.keyFile, why: controller.status.newKey }, 'made a new key pair');

  /** The device, made once this node is known: the MTU from its address's link, the tunnel address. */
  const ensureDevice = async (self: NodeInfo) => {
    if (device && !(await device.alive())) {
      log.warn({ iface: settings.iface }, 'tunnel interface gone: making it again');
      await device.stop().catch(() => undefined); // what is left of it
      device = undefined;
      controller.forgetDevice();
    }
    if (device) return;
    // A rotation's leftovers (an agent stopped half-way): its interface, and its key, never published for good.
    await deps.runner.run(['ip', 'link', 'del', 'dev', ifaces[1 - slot]!]).catch(() => undefined);
    rmSync(nextKeyFile, { force: true });
    const underlayIp = self.ips[0];
    if (!underlayIp) throw new Error(`node ${node} has no address yet: the tunnel waits for one`);
    const mtu = (await linkMtu(underlayIp)) - tunnelOverhead('wireguard', underlayIp.includes(':') ? 6 : 4);
    const address = tunnelAddress(self.podCIDRs ?? []);
    device = await makeDevice(slot, settings.keyFile, { address, mtu });
    made = { address, mtu };
    log.info({ mode: device.mode, iface: ifaces[slot], mtu, address }, 'tunnel interface up');
  };

  const makeDevice = (which: number, keyFile: string, m: { address: string | undefined; mtu: number }) =>
    startDevice({
      runner: deps.runner,
      iface: ifaces[which]!,
      keyFile,
      listenPort: settings.listenPort + which,
      logFile: settings.logFile,
      mtu: m.mtu,
      ...(m.address ? { address: m.address } : {}),
    });

  /** Set from the first line of a rotation to its end (rotation itself only once the new interface exists). */
  let rotating = false;
  async function rotate(): Promise<RotationResult> {
    if (rotating) throw new Error('a key rotation is already under way');
    if (!device || !made) throw new Error('the tunnel is not up yet: nothing to rotate');
    rotating = true;
    try {
      return await rotateNow(device, made);
    } finally {
      rotating = false;
    }
  }

  async function rotateNow(
    current: WireguardDevice,
    m: { address: string | undefined; mtu: number },
  ): Promise<RotationResult> {
    const t0 = Date.now();
    const next = 1 - slot;
    const pair = generateKeyPair();
    const oldKey = controller.currentKey;
    writeFileAtomic(nextKeyFile, `${pair.privateKey}\n`, 0o600);
    const fresh = await makeDevice(next, nextKeyFile, m);
    rotation = { device: fresh, switched: new Set() };
    const switched: Record<string, number> = {};
    let timedOut = false;
    let lastNudge = Date.now();
    try {
      controller.useKey(pair.publicKey, settings.listenPort + next);
      await loop.idle();
      loop.kick(lastNodes); // publishes the new key
      await loop.idle();
      await applyPeers(peersNow);
      for (;;) {
        const state = await fresh.state();
        for (const p of state.peers) {
          if (p.latestHandshake > 0 && !rotation.switched.has(p.publicKey)) {
            rotation.switched.add(p.publicKey);
            const peer = peersNow.find((x) => x.publicKey === p.publicKey);
            if (!peer) continue;
            // That peer now takes our packets only under the new key: its routes move at once.
            await fresh.routeHere(peer.allowedIPs);
            switched[peer.node] = Date.now() - t0;
          }
        }
        if (peersNow.every((p) => rotation!.switched.has(p.publicKey))) break;
        if (Date.now() - lastNudge > ROTATION_NUDGE_MS) {
          lastNudge = Date.now();
          const waiting = peersNow.filter((p) => !rotation!.switched.has(p.publicKey));
          for (const p of waiting) await fresh.removePeer(p.publicKey);
          await applyPeers(peersNow);
        }
        if (Date.now() - t0 > ROTATION_TIMEOUT_MS) {
          timedOut = true;
          break;
        }
        await new Promise((r) => setTimeout(r, ROTATION_POLL_MS));
      }
    } catch (err) {
      // Back to the old key: the new interface goes, the old key is published again at the next sync.
      await fresh.stop().catch(() => undefined);
      rmSync(nextKeyFile, { force: true });
      controller.useKey(oldKey, settings.listenPort + slot);
      rotation = undefined;
      throw err;
    }
    // Everything through the new interface; the old one and its key go.
    const old = current;
    device = fresh;
    rotation = undefined;
    slot = next;
    await device.apply(peersNow);
    await old.stop();
    renameSync(nextKeyFile, settings.keyFile);
    const result = { publicKey: pair.publicKey, ms: Date.now() - t0, switched, timedOut };
    lastRotation = { ...result, at: new Date().toISOString() };
    log.info(result, 'key rotated');
    return result;
  }

  const problems = createProblemReporter(node, log, deps.warnings);
  let lastNodes: readonly NodeInfo[] = [];
  const loop = createSyncLoop(
    async (nodes) => {
      lastNodes = nodes;
      others = nodes.filter((n) => n.name !== node).map((n) => n.name);
      const self = nodes.find((n) => n.name === node);
      if (!self) return; // our Node is not known yet: the next change brings it
      await ensureDevice(self);
      await controller.sync(nodes);
    },
    {
      log,
      what: 'wireguard',
      ...(deps.retryMs ? { retryMs: deps.retryMs } : {}),
      after: (err) => problems(controller.status.problems, err),
    },
  );

  const schedule =
    settings.rotateEveryMs &&
    setInterval(() => {
      if (!rotation && device)
        rotate().catch((err: unknown) =>
          log.warn({ err }, 'scheduled key rotation failed; the old key stays'),
        );
    }, settings.rotateEveryMs);
  return {
    kick: loop.kick,
    idle: loop.idle,
    rotate,
    async status(): Promise<EncryptionStatus> {
      const s = controller.status;
      const state = device ? await device.state().catch(() => undefined) : undefined;
      const counters = await deps.counters().catch(() => new Map<string, number>());
      const nowS = Date.now() / 1000;
      const byKey = new Map(state?.peers.map((p) => [p.publicKey, p]));
      return {
        backend: 'wireguard',
        mode: device?.mode ?? null,
        iface: ifaces[slot]!,
        keyAgeSeconds: fileAgeSeconds(settings.keyFile, (p) => statSync(p).mtimeMs),
        peers: s.peers.map((p) => {
          const d = byKey.get(p.publicKey);
          const age = d && d.latestHandshake > 0 ? Math.round(nowS - d.latestHandshake) : null;
          return {
            node: p.node,
            endpoint: p.endpoint,
            up: age !== null && age < SESSION_SECONDS,
            handshakeAgeSeconds: age,
            rxBytes: d?.rxBytes ?? 0,
            txBytes: d?.txBytes ?? 0,
          };
        }),
        problems: s.problems,
        strictDrops: strictDropsOf(counters, others),
        lastError: loop.lastError,
        publicKey: s.publicKey,
        published: s.published,
        tunnelAddress: made?.address ?? null,
        mtu: made?.mtu ?? null,
        interfaces: rotation ? [ifaces[slot], ifaces[1 - slot]] : [ifaces[slot]],
        port: settings.listenPort + slot,
        rotating: rotation !== undefined,
        lastRotation: lastRotation ?? null,
      };
    },
    async stop() {
      clearInterval(schedule || undefined);
      await loop.stop();
      await rotation?.device.stop();
      await device?.stop();
      device = undefined;
    },
  };
}
