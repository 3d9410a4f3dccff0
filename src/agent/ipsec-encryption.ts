// IPsec between nodes in the agent (issue 12, part 2), seed 001's way: a strongSwan charon per node
// (src/dataplane/ipsec.ts), one IKEv2 connection per other node for the pod CIDRs, authenticated by a
// pre-shared key read from a file (a Secret's key mounted into the agent's pod; re-read at every sync, so a
// changed Secret takes effect without a restart). No publication is needed: every node knows every other's
// address and pod CIDRs from its Node. Tunnels come up on load from both sides (no dependence on start order),
// a charon found dead is started again and loaded, and the peers' pod CIDRs never route in clear meanwhile
// (the strict rules, and the daemon's unreachable routes).
import { readFileSync, statSync } from 'node:fs';
import { type IpsecDaemon, LIBIPSEC_IFACE, startIpsecDaemon } from '../dataplane/ipsec.js';
import { connectionName, type IpsecConfig, MIN_PSK_LENGTH } from '../dataplane/ipsec-plan.js';
import type { Runner } from '../dataplane/runner.js';
import { linkMtuOf } from '../dataplane/wireguard.js';
import type { NodeInfo } from '../model/cluster.js';
import { LIBIPSEC_MTU, tunnelOverhead } from '../model/tunnel-mtu.js';
import { tunnelAddress } from '../model/wireguard.js';
import type { Logger } from '../util/log.js';
import {
  createProblemReporter,
  createSyncLoop,
  type Encryption,
  type EncryptionStatus,
  type EncryptionWarning,
  fileAgeSeconds,
  strictDropsOf,
} from './encryption.js';

export interface IpsecSettings {
  readonly backend: 'ipsec';
  /** The pre-shared key, one line (a Secret's key mounted as a file). */
  readonly pskFile: string;
  /** charon's config, secrets (0600) and vici socket; not under /run. */
  readonly dir: string;
  readonly logFile: string;
}

export interface IpsecEncryptionDeps {
  readonly runner: Runner;
  readonly log: Logger;
  readonly counters: () => Promise<Map<string, number>>;
  readonly startDaemon?: typeof startIpsecDaemon;
  readonly retryMs?: number;
  /** The node's network namespace (absent: the agent's own). */
  readonly netns?: string;
  /** The problems as they change (on Kubernetes: Warning Events on the Nodes). */
  readonly warnings?: (warnings: readonly EncryptionWarning[]) => void;
}

/** The PSK in the file, checked; the error names the file and what is wrong, never the key. */
export function readPsk(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`ipsec: pre-shared key file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const psk = text.replace(/\r?\n$/, '');
  if (psk.includes('\n')) throw new Error(`ipsec: pre-shared key file ${file}: holds more than one line`);
  if (psk.length < MIN_PSK_LENGTH)
    throw new Error(
      `ipsec: pre-shared key file ${file}: ${psk.length} characters, at least ${MIN_PSK_LENGTH} needed`,
    );
  return psk;
}

/** The peers of `self`: every other node with an address of its underlay's family and pod CIDRs. */
export function ipsecPeers(self: NodeInfo, nodes: readonly NodeInfo[]) {
  const family = (ip: string) => (ip.includes(':') ? 6 : 4);
  const underlay = family(self.ips[0]!);
  const peers: { node: string; address: string; podCIDRs: readonly string[] }[] = [];
  const problems: string[] = [];
  for (const n of [...nodes].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (n.name === self.name) continue;
    const address = n.ips.find((ip) => family(ip) === underlay);
    if (!address)
      problems.push(`node ${n.name}: no IPv${underlay} address in status.addresses to reach it at`);
    else if (!n.podCIDRs?.length) problems.push(`node ${n.name}: no spec.podCIDRs yet`);
    else peers.push({ node: n.name, address, podCIDRs: n.podCIDRs });
  }
  return { peers, problems };
}

export function createIpsecEncryption(
  node: string,
  settings: IpsecSettings,
  deps: IpsecEncryptionDeps,
): Encryption {
  const log = deps.log.child({ component: 'ipsec' });
  const startDaemon = deps.startDaemon ?? startIpsecDaemon;
  const netns = deps.netns;
  const run = (argv: string[]) => deps.runner.run(argv, netns ? { netns } : {});
  let daemon: IpsecDaemon | undefined;
  let daemonExited = false;
  let applied = '';
  let others: string[] = [];
  let problems: string[] = [];
  const report = createProblemReporter(node, log, deps.warnings);
  let peers: { node: string; address: string }[] = [];
  /** The largest packet the tunnel carries: what pods' MTU should be (status). */
  let mtu: number | null = null;

  const ensureDaemon = async () => {
    if (daemon && daemonExited) {
      log.warn({ pid: daemon.pid }, 'charon exited: starting it again');
      await daemon.stop().catch(() => undefined);
      daemon = undefined;
      applied = '';
    }
    if (daemon) return daemon;
    const d = await startDaemon({
      runner: deps.runner,
      netns: netns ?? '/proc/self/ns/net',
      dir: settings.dir,
      logFile: settings.logFile,
    });
    daemonExited = false;
    void d.exited.then(() => {
      daemonExited = true;
    });
    log.info({ mode: d.mode, why: d.modeReason, pid: d.pid }, 'charon started');
    daemon = d;
    return d;
  };

  const loop = createSyncLoop(
    async (nodes) => {
      others = nodes.filter((n) => n.name !== node).map((n) => n.name);
      const self = nodes.find((n) => n.name === node);
      if (!self?.ips[0] || !self.podCIDRs?.length) return; // not known (or not allocated) yet
      const psk = readPsk(settings.pskFile); // a broken key file: the tunnels stay as they are, reported
      const found = ipsecPeers(self, nodes);
      problems = found.problems;
      const d = await ensureDaemon();
      // kernel-libipsec sources its routes from an address inside the local traffic selector.
      const address = tunnelAddress(self.podCIDRs);
      if (address) await run(['ip', 'addr', 'replace', `${address}/32`, 'dev', 'lo']);
      const config: IpsecConfig = {
        node,
        address: self.ips[0],
        podCIDRs: self.podCIDRs,
        peers: found.peers,
        psk,
      };
      const key = JSON.stringify(config);
      if (key !== applied) {
        await d.apply(config);
        applied = key;
        peers = found.peers.map((p) => ({ node: p.node, address: p.address }));
        // What the tunnel carries (status), looked up with each new config or charon, not at every check.
        const family = self.ips[0].includes(':') ? 6 : 4;
        const fits = (await linkMtuOf(deps.runner, self.ips[0], netns)) - tunnelOverhead('ipsec', family);
        mtu = d.mode === 'libipsec' ? Math.min(fits, LIBIPSEC_MTU) : fits;
      }
    },
    {
      log,
      what: 'ipsec',
      ...(deps.retryMs ? { retryMs: deps.retryMs } : {}),
      after: (err) => report(problems, err),
    },
  );

  return {
    kick: loop.kick,
    idle: loop.idle,
    async status(): Promise<EncryptionStatus> {
      const sas = daemon ? await daemon.state().catch(() => ({})) : {};
      const counters = await deps.counters().catch(() => new Map<string, number>());
      return {
        backend: 'ipsec',
        mode: daemon?.mode ?? null,
        iface: LIBIPSEC_IFACE,
        keyAgeSeconds: fileAgeSeconds(settings.pskFile, (p) => statSync(p).mtimeMs),
        peers: peers.map((p) => {
          const sa = (sas as Record<string, { ikeState: string; establishedSeconds?: number }>)[
            connectionName(p.node)
          ];
          const up = sa?.ikeState === 'ESTABLISHED';
          return {
            node: p.node,
            endpoint: p.address,
            up,
            handshakeAgeSeconds: up ? (sa?.establishedSeconds ?? null) : null,
          };
        }),
        problems,
        strictDrops: strictDropsOf(counters, others),
        lastError: loop.lastError,
        mtu,
      };
    },
    async stop() {
      await loop.stop();
      await daemon?.stop();
      daemon = undefined;
    },
  };
}
