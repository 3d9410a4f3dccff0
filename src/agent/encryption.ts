// Encryption between nodes in the agent (issue 12): the WireGuard controller (wireguard-controller.ts) driven
// by the datastore's nodes, the device (src/dataplane/wireguard.ts) made on the first sync that knows this node
// (its address gives the underlay's family and MTU, its pod CIDR the tunnel address), syncs run one at a time
// with the newest nodes (a failed one is retried), and the status operators read: mode, key age, each peer's
// handshake age and the strict drops counted against it (the table's per-node rules, encryption-chains.ts).
import { statSync } from 'node:fs';
import type { Runner } from '../dataplane/runner.js';
import { linkMtuOf, startWireguardDevice, type WireguardDevice } from '../dataplane/wireguard.js';
import type { NodeInfo } from '../model/cluster.js';
import { tunnelAddress, WIREGUARD_ANNOTATION, wireguardOverhead } from '../model/wireguard.js';
import { strictComment } from '../policy/names.js';
import type { Logger } from '../util/log.js';
import { WireguardController, type WireguardStatus } from './wireguard-controller.js';

export interface WireguardSettings {
  /** The tunnel's interface (at most 15 characters; unique on the machine when wireguard-go runs it). */
  readonly iface: string;
  /** The node's private key, kept across restarts (owner-readable only). */
  readonly keyFile: string;
  readonly listenPort: number;
  /** wireguard-go's output, when the kernel has no WireGuard. */
  readonly logFile: string;
}

export interface PeerStatus {
  readonly node: string;
  readonly endpoint: string;
  /** Seconds since the last handshake; null before the first. */
  readonly handshakeAgeSeconds: number | null;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface EncryptionStatus {
  readonly backend: 'wireguard';
  /** kernel or userspace (wireguard-go); null until the device is made. */
  readonly mode: 'kernel' | 'userspace' | null;
  readonly iface: string;
  readonly publicKey: string;
  readonly keyAgeSeconds: number;
  readonly published: boolean;
  readonly tunnelAddress: string | null;
  readonly mtu: number | null;
  readonly peers: readonly PeerStatus[];
  /** Nodes that are not peers and why: their pods stay unreachable, never in clear. */
  readonly problems: readonly string[];
  /** Packets dropped because they would have left for a node's pods outside the tunnel, by node. */
  readonly strictDrops: Readonly<Record<string, number>>;
  readonly lastError: string | null;
}

export interface Encryption {
  /** A change of the cluster's nodes: synced soon, after any sync already running. */
  kick(nodes: readonly NodeInfo[]): void;
  /** Resolves once no sync is running or waiting (tests, shutdown). */
  idle(): Promise<void>;
  status(): Promise<EncryptionStatus>;
  stop(): Promise<void>;
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
  let lastError: string | null = null;
  let stopped = false;
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
    const family = underlayIp.includes(':') ? 6 : 4;
    const mtu = (await linkMtu(underlayIp)) - wireguardOverhead(family);
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

  /** The other nodes as of the last sync: whose strict drops status reports. */
  let others: string[] = [];
  let pending: readonly NodeInfo[] | undefined;
  let running: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;
  const syncOnce = async (nodes: readonly NodeInfo[]) => {
    others = nodes.filter((n) => n.name !== node).map((n) => n.name);
    const self = nodes.find((n) => n.name === node);
    if (!self) return; // our Node is not known yet: the next change brings it
    await ensureDevice(self);
    const s: WireguardStatus = await controller.sync(nodes);
    if (s.problems.length > 0) log.debug({ problems: s.problems }, 'nodes that are not peers');
  };
  const loop = async () => {
    while (pending && !stopped) {
      const nodes = pending;
      pending = undefined;
      try {
        await syncOnce(nodes);
        lastError = null;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        log.warn({ err }, 'wireguard sync failed; retrying');
        clearTimeout(retry);
        retry = setTimeout(() => {
          if (!pending) kick(nodes);
        }, deps.retryMs ?? 1000);
      }
    }
    running = undefined;
  };
  const kick = (nodes: readonly NodeInfo[]) => {
    if (stopped) return;
    pending = nodes;
    running ??= loop();
  };

  return {
    kick,
    async idle() {
      while (running) await running;
    },
    async status() {
      const s = controller.status;
      const state = device ? await device.state().catch(() => undefined) : undefined;
      const counters = await deps.counters().catch(() => new Map<string, number>());
      const nowS = Date.now() / 1000;
      const byKey = new Map(state?.peers.map((p) => [p.publicKey, p]));
      const strictDrops: Record<string, number> = {};
      for (const n of others) {
        const count = counters.get(strictComment(n));
        if (count !== undefined) strictDrops[n] = count;
      }
      let keyAgeSeconds = 0;
      try {
        keyAgeSeconds = Math.round(nowS - statSync(settings.keyFile).mtimeMs / 1000);
      } catch {
        // the key file vanished: the next restart makes a new one (reported then)
      }
      return {
        backend: 'wireguard',
        mode: device?.mode ?? null,
        iface: settings.iface,
        publicKey: s.publicKey,
        keyAgeSeconds,
        published: s.published,
        tunnelAddress: made?.address ?? null,
        mtu: made?.mtu ?? null,
        peers: s.peers.map((p) => {
          const d = byKey.get(p.publicKey);
          return {
            node: p.node,
            endpoint: p.endpoint,
            handshakeAgeSeconds: d && d.latestHandshake > 0 ? Math.round(nowS - d.latestHandshake) : null,
            rxBytes: d?.rxBytes ?? 0,
            txBytes: d?.txBytes ?? 0,
          };
        }),
        problems: s.problems,
        strictDrops,
        lastError,
      };
    },
    async stop() {
      stopped = true;
      clearTimeout(retry);
      while (running) await running;
      await device?.stop();
      device = undefined;
    },
  };
}
