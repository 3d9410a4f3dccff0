// The repair controller (issue 4 §3): on its own node, finds pods that chained mode should have redirected but
// did not (they left no marker: they started before the plugin was in the chain) and, per configuration,
// labels them (palisade.dev/redirect-missing=true) or deletes them so their owner recreates them through the
// plugin. What to act on is decided by src/chained/repair.ts; this lists markers, calls the API and remembers.
import type { RepairAction } from '../chained/repair.js';
import { planRepairs } from '../chained/repair.js';
import type { SelectionConfig } from '../chained/selection.js';
import { listMarkers } from '../cni/redirect-marker.js';
import type { DatastoreSnapshot } from '../datastore/types.js';
import type { Logger } from '../util/log.js';

export const MISSING_LABEL = 'palisade.dev/redirect-missing';

/** What the controller needs of the API server (src/datastore/kube-pods.ts on Kubernetes). */
export interface RepairApi {
  label(namespace: string, name: string, key: string, value: string): Promise<void>;
  /** Deletes the pod only if it is still the one with this UID (never its replacement). */
  remove(namespace: string, name: string, uid: string | undefined): Promise<void>;
}

export interface RepairOptions {
  readonly node: string;
  readonly action: RepairAction;
  readonly selection: SelectionConfig;
  readonly markerDir: string;
  readonly graceMs: number;
  readonly intervalMs: number;
  readonly ownerCooldownMs: number;
}

export class RepairController {
  private readonly acted = new Set<string>();
  private readonly ownerDeletedAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly opts: RepairOptions,
    private readonly deps: {
      api: RepairApi;
      snapshot: () => DatastoreSnapshot;
      log: Logger;
      now?: () => number;
      /** Counted per pod acted on. */
      onRepaired?: (action: RepairAction) => void;
    },
  ) {}

  /** One pass: returns how many pods it acted on. */
  async tick(): Promise<number> {
    const snap = this.deps.snapshot();
    if (!snap.synced) return 0;
    const now = (this.deps.now ?? Date.now)();
    const plan = planRepairs({
      node: this.opts.node,
      pods: snap.pods,
      namespaces: snap.namespaces,
      markers: listMarkers(this.opts.markerDir),
      selection: this.opts.selection,
      action: this.opts.action,
      nowMs: now,
      graceMs: this.opts.graceMs,
      acted: this.acted,
      ownerDeletedAt: this.ownerDeletedAt,
      ownerCooldownMs: this.opts.ownerCooldownMs,
    });
    for (const h of plan.held) this.deps.log.debug({ pod: `${h.pod.namespace}/${h.pod.name}` }, h.reason);
    let n = 0;
    for (const c of plan.act) {
      const pod = `${c.pod.namespace}/${c.pod.name}`;
      try {
        if (this.opts.action === 'delete') {
          await this.deps.api.remove(c.pod.namespace, c.pod.name, c.pod.workload?.uid);
          const owner = c.pod.workload?.owner;
          if (owner) this.ownerDeletedAt.set(owner, now);
        } else {
          await this.deps.api.label(c.pod.namespace, c.pod.name, MISSING_LABEL, 'true');
        }
        this.acted.add(c.key);
        n += 1;
        this.deps.onRepaired?.(this.opts.action);
        this.deps.log.warn({ pod, action: this.opts.action, reason: c.reason }, 'pod repaired');
      } catch (err) {
        this.deps.log.warn({ pod, action: this.opts.action, err }, 'repair failed; retrying next pass');
      }
    }
    return n;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = true;
      this.tick()
        .catch((err: unknown) => this.deps.log.error({ err }, 'repair pass failed'))
        .finally(() => {
          this.running = false;
        });
    }, this.opts.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
