// The agent's Prometheus metrics, on a registry of its own (no global default registry).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { EncryptionStatus } from './encryption.js';
import type { HostEndpointStatus } from './host-endpoint-desired.js';
import type { SyncStats } from './reconciler.js';

export interface AgentMetrics {
  readonly registry: Registry;
  synced(stats: SyncStats): void;
  syncFailed(): void;
  driftRepaired(): void;
  /** Established connections ended because a policy change denies them. */
  revoked(n: number): void;
  /** A pod the repair controller labelled or deleted. */
  repaired(action: string): void;
  /** The host endpoint controller's status changed (its metrics appear with the first change). */
  hostEndpoint(status: HostEndpointStatus): void;
  /** Encryption is on: its metrics are read from `status` at each scrape. */
  encryption(status: () => Promise<EncryptionStatus>): void;
}

export function createAgentMetrics(node: string): AgentMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node });
  // process_resident_memory_bytes, nodejs_heap_size_used_bytes, event loop lag, GC...: what operators watch.
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'palisade_sync_duration_seconds',
    help: 'Time from reading the datastore snapshot to the nftables transaction committed',
    labelNames: ['mode'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'palisade_sync_errors_total',
    help: 'Syncs that failed and were retried',
    registers: [registry],
  });
  const drift = new Counter({
    name: 'palisade_drift_repairs_total',
    help: 'Times the table was found changed and replaced',
    registers: [registry],
  });
  const rules = new Gauge({
    name: 'palisade_rules',
    help: 'Rules in the programmed table',
    registers: [registry],
  });
  const sets = new Gauge({
    name: 'palisade_sets',
    help: 'Named sets in the programmed table',
    registers: [registry],
  });
  const rejected = new Gauge({
    name: 'palisade_policy_rejected',
    help: 'Policies the compiler could not accept (1 per policy); they fail closed',
    labelNames: ['policy'],
    registers: [registry],
  });
  const hostRefused = new Gauge({
    name: 'palisade_host_policy_refused',
    help: 'Host policy objects held back by lockout protection (1 per object), by why: would-cut or confirm-expired',
    labelNames: ['object', 'reason'],
    registers: [registry],
  });
  const revision = new Gauge({
    name: 'palisade_programmed_revision',
    help: 'Datastore revision last programmed (when numeric)',
    registers: [registry],
  });
  const revoked = new Counter({
    name: 'palisade_conntrack_revoked_total',
    help: 'Established connections whose conntrack entry was deleted because a policy change denies them',
    registers: [registry],
  });
  const repaired = new Counter({
    name: 'palisade_pods_repaired_total',
    help: 'Pods chained mode should have redirected but did not, labelled or deleted by the repair controller',
    labelNames: ['action'],
    registers: [registry],
  });
  // Registered on first use: an agent without the controller shows neither.
  const hepInPlace = new Gauge({
    name: 'palisade_host_endpoint_in_place',
    help: "1 while this node's automatic HostEndpoint exists as it should (--auto-host-endpoints), else 0",
    registers: [],
  });
  const hepWrites = new Counter({
    name: 'palisade_host_endpoint_writes_total',
    help: 'Creates and patches of the automatic HostEndpoint (each found missing or different)',
    labelNames: ['action'],
    registers: [],
  });
  let hepWritten: { creates: number; patches: number } | undefined;
  return {
    registry,
    encryption(status) {
      // One read of the status per scrape, shared by the gauges below (each collect asks for it).
      let cached: { at: number; value: Promise<EncryptionStatus> } | undefined;
      const read = () => {
        if (!cached || Date.now() - cached.at > 500) cached = { at: Date.now(), value: status() };
        return cached.value;
      };
      const gauge = (
        name: string,
        help: string,
        labelNames: string[],
        fill: (g: Gauge, s: EncryptionStatus) => void,
      ) =>
        new Gauge({
          name,
          help,
          labelNames,
          registers: [registry],
          async collect() {
            this.reset();
            fill(this, await read());
          },
        });
      gauge(
        'palisade_encryption_info',
        'Encryption between nodes: 1, labelled by backend and mode (kernel, userspace, libipsec)',
        ['backend', 'mode'],
        (g, s) => g.set({ backend: s.backend, mode: s.mode ?? 'starting' }, 1),
      );
      gauge(
        'palisade_encryption_key_age_seconds',
        "Age of this node's key (WireGuard key pair, IPsec pre-shared key file)",
        [],
        (g, s) => {
          if (s.keyAgeSeconds !== null) g.set(s.keyAgeSeconds);
        },
      );
      gauge('palisade_encryption_peers', 'Nodes this node has a tunnel to (configured)', [], (g, s) =>
        g.set(s.peers.length),
      );
      gauge(
        'palisade_encryption_peers_up',
        'Peers with a live session (a recent handshake, an established SA)',
        [],
        (g, s) => g.set(s.peers.filter((p) => p.up).length),
      );
      gauge(
        'palisade_encryption_peer_problems',
        'Nodes that are no peer (no or a broken publication): blocked, never in clear',
        [],
        (g, s) => g.set(s.problems.length),
      );
      gauge(
        'palisade_encryption_peer_handshake_age_seconds',
        'Seconds since the last handshake with each peer (absent before the first)',
        ['peer'],
        (g, s) => {
          for (const p of s.peers)
            if (p.handshakeAgeSeconds !== null) g.set({ peer: p.node }, p.handshakeAgeSeconds);
        },
      );
      gauge(
        'palisade_encryption_strict_drops_total',
        "Packets dropped because they would have reached a node's pods outside the tunnel (a counter, read from the kernel)",
        ['peer'],
        (g, s) => {
          for (const [peer, n] of Object.entries(s.strictDrops)) g.set({ peer }, n);
        },
      );
    },
    hostEndpoint(s) {
      if (!hepWritten) {
        registry.registerMetric(hepInPlace);
        registry.registerMetric(hepWrites);
        hepWritten = { creates: 0, patches: 0 };
      }
      hepInPlace.set(s.state === 'in-place' ? 1 : 0);
      hepWrites.inc({ action: 'create' }, s.creates - hepWritten.creates);
      hepWrites.inc({ action: 'patch' }, s.patches - hepWritten.patches);
      hepWritten = { creates: s.creates, patches: s.patches };
    },
    synced(s) {
      duration.observe({ mode: s.mode }, s.durationMs / 1000);
      rules.set(s.rules);
      sets.set(s.sets);
      rejected.reset();
      for (const d of s.diagnostics) rejected.set({ policy: d.policy }, 1);
      hostRefused.reset();
      for (const r of s.hostRefusals ?? []) hostRefused.set({ object: r.object, reason: r.reason }, 1);
      const n = Number(s.revision);
      if (Number.isFinite(n)) revision.set(n);
    },
    syncFailed: () => errors.inc(),
    driftRepaired: () => drift.inc(),
    revoked: (n) => revoked.inc(n),
    repaired: (action) => repaired.inc({ action }),
  };
}
