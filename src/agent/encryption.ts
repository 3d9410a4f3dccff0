// Encryption between nodes in the agent (issue 12), what every backend shares: the interface the agent drives
// (nodes in, status out), the status operators read, and the loop that runs a backend's syncs one at a time
// with the newest nodes, retrying a failed one. The backends: wireguard-encryption.ts, ipsec-encryption.ts.
import type { NodeInfo } from '../model/cluster.js';
import { strictComment } from '../policy/names.js';
import type { Logger } from '../util/log.js';

export type EncryptionBackend = 'wireguard' | 'ipsec';

export interface PeerStatus {
  readonly node: string;
  /** Where its tunnel ends: "198.18.0.12:51820" (WireGuard), "198.18.0.12" (IPsec). */
  readonly endpoint: string;
  /** Whether a session is up: a WireGuard handshake within the last 3 minutes, an ESTABLISHED IKE_SA. */
  readonly up: boolean;
  /** Seconds since the last WireGuard handshake, or since the IKE_SA was established; null before either. */
  readonly handshakeAgeSeconds: number | null;
}

export interface EncryptionStatus {
  readonly backend: EncryptionBackend;
  /** WireGuard: kernel or userspace; IPsec: kernel or libipsec; null until the tunnel is made. */
  readonly mode: string | null;
  /** The interface pod traffic to other nodes must leave by (the strict rules' exception). */
  readonly iface: string;
  /** Seconds since this node's key (WireGuard key pair, IPsec pre-shared key file) last changed. */
  readonly keyAgeSeconds: number | null;
  readonly peers: readonly PeerStatus[];
  /** Nodes that are not peers and why: their pods stay unreachable, never in clear. */
  readonly problems: readonly string[];
  /** Packets dropped because they would have left for a node's pods outside the tunnel, by node. */
  readonly strictDrops: Readonly<Record<string, number>>;
  readonly lastError: string | null;
  /** What only one backend has (WireGuard: publicKey, published, tunnelAddress, mtu, rotation). */
  readonly [more: string]: unknown;
}

export interface Encryption {
  /** A change of the cluster's nodes (or a periodic check): synced soon, after any sync already running. */
  kick(nodes: readonly NodeInfo[]): void;
  /** Resolves once no sync is running or waiting (tests, shutdown). */
  idle(): Promise<void>;
  status(): Promise<EncryptionStatus>;
  stop(): Promise<void>;
  /** A new key now, with overlap (WireGuard; IPsec has none: its SAs rekey themselves). */
  rotate?(): Promise<RotationResult>;
}

export interface RotationResult {
  readonly publicKey: string;
  /** From the new key's publication to the old interface's removal. */
  readonly ms: number;
  /** Each peer's switch, ms after the publication (absent: it had not switched when the rotation ended). */
  readonly switched: Readonly<Record<string, number>>;
  readonly timedOut: boolean;
}

/** A Warning about encryption: the node it concerns (a peer that stays blocked, or this node), why, and what. */
export interface EncryptionWarning {
  readonly node: string;
  /** EncryptionPeerBlocked (a node that is no peer), EncryptionNotProgrammed (this node's tunnel or key). */
  readonly reason: 'EncryptionPeerBlocked' | 'EncryptionNotProgrammed';
  readonly message: string;
}

/**
 * Problems as they stand after each sync: logged once when they appear (at warn, naming the node and the
 * field), and reported whole to `report` (on Kubernetes, Warning Events on the Nodes) whenever they change.
 * Peer problems read "node NAME: ..." (src/model/wireguard.ts, ipsec-encryption.ts): the node is taken from it.
 */
export function createProblemReporter(
  self: string,
  log: Logger,
  report?: (warnings: readonly EncryptionWarning[]) => void,
) {
  let last = '';
  let logged = new Set<string>();
  return (peerProblems: readonly string[], ownError: string | null) => {
    const warnings: EncryptionWarning[] = [
      ...peerProblems.map((message) => ({
        node: /^node (\S+?):/.exec(message)?.[1] ?? self,
        reason: 'EncryptionPeerBlocked' as const,
        message,
      })),
      ...(ownError ? [{ node: self, reason: 'EncryptionNotProgrammed' as const, message: ownError }] : []),
    ];
    const now = new Set(warnings.map((w) => w.message));
    for (const w of warnings)
      if (!logged.has(w.message)) log.warn({ node: w.node, reason: w.reason }, w.message);
    logged = now;
    const key = JSON.stringify(warnings);
    if (key === last) return;
    last = key;
    report?.(warnings);
  };
}

/** Runs `sync` with the newest nodes, one at a time; a failure is kept as lastError and retried after retryMs. */
export function createSyncLoop(
  sync: (nodes: readonly NodeInfo[]) => Promise<void>,
  o: {
    readonly log: Logger;
    readonly what: string;
    readonly retryMs?: number;
    /** After every sync: null, or the error it failed with. */
    readonly after?: (error: string | null) => void;
  },
) {
  let pending: readonly NodeInfo[] | undefined;
  let running: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  let lastError: string | null = null;
  const loop = async () => {
    while (pending && !stopped) {
      const nodes = pending;
      pending = undefined;
      try {
        await sync(nodes);
        lastError = null;
        o.after?.(null);
      } catch (err) {
        const first = lastError === null;
        lastError = err instanceof Error ? err.message : String(err);
        // Logged once per failure, not at every retry: the problem reporter names it (after).
        if (first) o.log.debug({ err }, `${o.what} sync failed; retrying`);
        o.after?.(lastError);
        clearTimeout(retry);
        retry = setTimeout(() => {
          if (!pending) kick(nodes);
        }, o.retryMs ?? 1000);
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
    get lastError() {
      return lastError;
    },
    async idle() {
      while (running) await running;
    },
    /** No more syncs; resolves once the running one is done. */
    async stop() {
      stopped = true;
      clearTimeout(retry);
      while (running) await running;
    },
  };
}

/** The strict rules' drop counters (by comment, nft-counters.ts) of the nodes `others`, by node. */
export function strictDropsOf(
  counters: ReadonlyMap<string, number>,
  others: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of others) {
    const count = counters.get(strictComment(n));
    if (count !== undefined) out[n] = count;
  }
  return out;
}

/** Seconds since `path` was last written; null when it is missing. */
export function fileAgeSeconds(path: string, statMtimeMs: (p: string) => number): number | null {
  try {
    return Math.round((Date.now() - statMtimeMs(path)) / 1000);
  } catch {
    return null; // missing: reported by the backend that reads it
  }
}
