// WireGuard between nodes in the agent (issue 12): the controller (wireguard-controller.ts) driven by the
// datastore's nodes; the device (src/dataplane/wireguard.ts) made on the first sync that knows this node (its
// address gives the underlay's family and MTU, its pod CIDR the tunnel address), and made again when it is
// found gone; status: mode, key age, each peer's handshake age, the strict drops counted against each node.
import { statSync } from 'node:fs';
import type { Runner } from '../dataplane/runner.js';
import { linkMtuOf, startWireguardDevice, type WireguardDevice } from '../dataplane/wireguard.js';
import type { NodeInfo } from '../model/cluster.js';
import { tunnelOverhead } from '../model/tunnel-mtu.js';
import { tunnelAddress, WIREGUARD_ANNOTATION } from '../model/wireguard.js';
import type { Logger } from '../util/log.js';
import {
  createSyncLoop,
  type Encryption,
  type EncryptionStatus,
  fileAgeSeconds,
  strictDropsOf,
} from './encryption.js';
import { WireguardController } from './wireguard-controller.js';

export interface WireguardSettings {
  readonly backend: 'wireguard';
  /** The tunnel's interface (at most 15 characters; unique on the machine when wireguard-go runs it). */
  readonly iface: string;
  /** The node's private key, kept across restarts (owner-readable only). */
  readonly keyFile: string;
  readonly listenPort: number;
  /** wireguard-go's output, when the kernel has no WireGuard. */
  readonly logFile: string;
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
}

/** A handshake older than this means the session is gone (WireGuard rejects keys older than 180 s). */
const SESSION_SECONDS = 180;

export function createWireguardEncryption(
  node: string,
  settings: WireguardSettings,
  deps: EncryptionDeps,
): Encryption {
  const log = deps.log.child({ component: 'wireguard' });
  const startDevice = deps.startDevice ?? startWireguardDevice;
  const linkMtu = deps.linkMtu ?? ((address: string) => linkMtuOf(deps.runner, address));
  let device: WireguardDevice | undefined;
  let made: { address: string | undefined; mtu: number } | undefined;
  /** The other nodes as of the last sync: whose strict drops status reports. */
  let others: string[] = [];
  const controller = new WireguardController({
    node,
    keyFile: settings.keyFile,
    listenPort: settings.listenPort,
    publish: (value) => deps.annotate(WIREGUARD_ANNOTATION, value),
    device: { apply: (peers) => device!.apply(peers) },
  });
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
    const underlayIp = self.ips[0];
    if (!underlayIp) throw new Error(`node ${node} has no address yet: the tunnel waits for one`);
    const mtu = (await linkMtu(underlayIp)) - tunnelOverhead('wireguard', underlayIp.includes(':') ? 6 : 4);
    const address = tunnelAddress(self.podCIDRs ?? []);
    device = await startDevice({
      runner: deps.runner,
      iface: settings.iface,
      keyFile: settings.keyFile,
      listenPort: settings.listenPort,
      logFile: settings.logFile,
      mtu,
      ...(address ? { address } : {}),
    });
    made = { address, mtu };
    log.info({ mode: device.mode, iface: settings.iface, mtu, address }, 'tunnel interface up');
  };

  const loop = createSyncLoop(
    async (nodes) => {
      others = nodes.filter((n) => n.name !== node).map((n) => n.name);
      const self = nodes.find((n) => n.name === node);
      if (!self) return; // our Node is not known yet: the next change brings it
      await ensureDevice(self);
      const s = await controller.sync(nodes);
      if (s.problems.length > 0) log.debug({ problems: s.problems }, 'nodes that are not peers');
    },
    { log, what: 'wireguard', ...(deps.retryMs ? { retryMs: deps.retryMs } : {}) },
  );

  return {
    kick: loop.kick,
    idle: loop.idle,
    async status(): Promise<EncryptionStatus> {
      const s = controller.status;
      const state = device ? await device.state().catch(() => undefined) : undefined;
      const counters = await deps.counters().catch(() => new Map<string, number>());
      const nowS = Date.now() / 1000;
      const byKey = new Map(state?.peers.map((p) => [p.publicKey, p]));
      return {
        backend: 'wireguard',
        mode: device?.mode ?? null,
        iface: settings.iface,
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
      };
    },
    async stop() {
      await loop.stop();
      await device?.stop();
      device = undefined;
    },
  };
}
