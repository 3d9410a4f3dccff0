// The agent's reconcile loop: level-triggered and coalesced. Any number of kicks while a sync runs lead to one
// more sync; each sync reads the latest snapshot, compiles the node's table (incrementally: only what changed
// since the last sync is recomputed) and applies the difference in one transaction. A periodic resync checks the kernel still holds the table and replaces it when it drifted.
import type { DatastoreSnapshot } from '../datastore/types.js';
import type { Table } from '../ir/ir.js';
import type { ClusterState } from '../model/cluster.js';
import { type Diagnostic, NodeCompiler, type NodeCompilerOptions } from '../policy/node-compiler.js';
import type { Logger } from '../util/log.js';
import { phaseTimer } from '../util/phases.js';
import { type LocalEndpoint, mergeEndpoints } from './endpoints.js';
import type { HostGuard, Refusal } from './host-guard.js';

/** What the reconciler needs of the nftables applier (src/dataplane/nft-apply.ts). */
export interface TableApplier {
  replace(table: Table): Promise<void>;
  update(prev: Table, next: Table): Promise<{ mode: 'noop' | 'incremental' | 'replace'; error?: string }>;
  matches(expected: Table): Promise<boolean>;
}

export interface SyncStats {
  readonly revision: string;
  readonly durationMs: number;
  /** Where the sync's time went, ms: reading endpoints, compiling, the kernel transaction (revocation follows). */
  readonly phases?: Readonly<Record<string, number>>;
  readonly mode: 'noop' | 'incremental' | 'replace';
  readonly rules: number;
  readonly sets: number;
  readonly diagnostics: readonly Diagnostic[];
  /** Host objects held back by lockout protection (host-guard.ts), all of them, not only this sync's. */
  readonly hostRefusals?: readonly Refusal[];
}

export interface ReconcilerDeps {
  readonly node: string;
  readonly compiler?: NodeCompilerOptions;
  readonly snapshot: () => DatastoreSnapshot;
  readonly endpoints: () => Promise<readonly LocalEndpoint[]>;
  readonly applier: TableApplier;
  readonly log: Logger;
  readonly onSynced?: (stats: SyncStats) => void;
  /** After a sync that changed the kernel's table (not after a noop): the table and the state it came from. */
  /** Called after a sync that changed the table; the revision is reported programmed once it resolves. */
  readonly onTableChanged?: (table: Table, state: ClusterState) => void | Promise<void>;
  readonly onError?: (err: unknown) => void;
  /** Lockout protection: decides which GlobalNetworkPolicies and HostEndpoints each sync may program. */
  readonly hostGuard?: HostGuard;
  /** A sync programmed host objects that changed (their keys): the confirm window starts (host-confirm.ts). */
  readonly onHostChange?: (changed: readonly string[]) => void;
  readonly now?: () => number;
  readonly retryMs?: number;
}

export class Reconciler {
  private programmed: Table | undefined;
  private programmedRevision = '';
  private programmedRevisions: Readonly<Record<string, string>> | undefined;
  private running: Promise<void> | undefined;
  /** The revocations of the syncs so far, in order (see syncOnce). */
  private revoked: Promise<void> = Promise.resolve();
  /**
   * Syncs and drift repairs take turns: a repair that read `programmed` while a sync was committing a newer
   * table would put the older table back (and the agent would report the newer revision as programmed).
   */
  private kernelTurn: Promise<unknown> = Promise.resolve();
  private dirty = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly waiters: {
    after: number;
    /** Resolve once the table is in the kernel, without waiting for revocation (see kick). */
    committed: boolean;
    resolve: () => void;
    reject: (e: unknown) => void;
  }[] = [];
  private generation = 0;
  private stopped = false;
  /** Keeps the previous compile's results: each sync recomputes only what changed since. */
  private readonly compiler: NodeCompiler;

  constructor(private readonly deps: ReconcilerDeps) {
    this.compiler = new NodeCompiler(deps.node, deps.compiler);
  }

  get revision(): string {
    return this.programmedRevision;
  }

  /** Per resource, when the datastore tells (Kubernetes): what the programmed table reflects. */
  get revisions(): Readonly<Record<string, string>> | undefined {
    return this.programmedRevisions;
  }

  get ready(): boolean {
    return this.programmed !== undefined;
  }

  /**
   * Something changed: sync soon (coalesced with other kicks). Resolves once a sync that began after the kick
   * finished, revocation of the connections it denies included; with `until: 'committed'`, as soon as that sync's
   * table is in the kernel. The CNI hand-off waits only for the commit: a pod's own containers start after its
   * ADD returns, and adding an endpoint denies no established flow but those of a reused address, which
   * revocation ends right after (it walks the kernel's whole conntrack hash, ~10 ms however empty).
   */
  kick(opts: { until?: 'committed' | 'revoked' } = {}): Promise<void> {
    this.generation += 1;
    const after = this.generation;
    const committed = opts.until === 'committed';
    const done = new Promise<void>((resolve, reject) =>
      this.waiters.push({ after, committed, resolve, reject }),
    );
    this.dirty = true;
    if (!this.running) this.running = this.loop();
    return done;
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      const gen = this.generation;
      try {
        // Until the datastore has its first full list, programming would open enforced pods: wait for it.
        await this.exclusive(() => this.syncOnce(gen));
      } catch (err) {
        this.deps.log.error({ err }, 'sync failed; retrying');
        this.deps.onError?.(err);
        clearTimeout(this.retry);
        this.retry = setTimeout(() => void this.kick(), this.deps.retryMs ?? 1000);
      }
    }
    this.running = undefined;
  }

  /** Resolves the waiters a sync of generation `gen` satisfies (only those waiting for the commit, if `committed`). */
  private settle(gen: number, committed: boolean): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.after <= gen && (w.committed || !committed)) {
        w.resolve();
        this.waiters.splice(i, 1);
      }
    }
  }

  private async syncOnce(gen: number): Promise<boolean> {
    const now = this.deps.now ?? Date.now;
    const t0 = now();
    const snap = this.deps.snapshot();
    if (!snap.synced) return false;
    // endpoints, compile, kernel: the sync's own; revocation follows it (see below).
    const { ms: phases, lap } = phaseTimer(now);
    const state = mergeEndpoints(snap, this.deps.node, await this.deps.endpoints());
    lap('endpoints');
    const guard = this.deps.hostGuard;
    const admitted = guard
      ? guard.admit(state, (s) => this.compiler.compile(s))
      : { result: this.compiler.compile(state), refused: [], changed: [] };
    const { table, diagnostics } = admitted.result;
    lap('compile');
    for (const r of admitted.refused)
      this.deps.log.error(
        { object: r.object, connection: r.connection },
        'host policy change refused: it would cut the node off',
      );
    let mode: SyncStats['mode'] = 'replace';
    if (this.programmed) {
      const out = await this.deps.applier.update(this.programmed, table);
      mode = out.mode;
      if (out.error) this.deps.log.warn({ error: out.error }, 'incremental update failed; table replaced');
    } else {
      await this.deps.applier.replace(table);
    }
    lap('kernel');
    this.programmed = table;
    this.settle(gen, true);
    if (admitted.changed.length > 0) this.deps.onHostChange?.(admitted.changed);
    // A changed table may deny flows that are already established: end them before the revision counts as
    // programmed, so "programmed" means no connection contradicts the policy (with a revoke delay, later). The
    // next sync does not wait for it (it lists the whole conntrack table, ~10 ms): revocations complete in
    // order, and each then publishes its sync's revision and settles the kicks that wait for it.
    const revoked = mode === 'noop' ? undefined : this.deps.onTableChanged?.(table, state);
    this.revoked = this.revoked
      .then(() => revoked)
      .catch((err: unknown) => this.deps.log.error({ err }, 'revoking denied connections failed'))
      .then(() => {
        this.programmedRevision = snap.revision;
        this.programmedRevisions = snap.revisions;
        this.settle(gen, false);
      });
    for (const d of diagnostics)
      this.deps.log.error({ policy: d.policy, problems: d.problems }, 'policy rejected; it fails closed');
    this.deps.onSynced?.({
      revision: snap.revision,
      durationMs: now() - t0,
      phases,
      mode,
      rules: table.chains.reduce((n, c) => n + c.rules.length, 0),
      sets: table.sets.length,
      diagnostics,
      ...(guard ? { hostRefusals: guard.refusals } : {}),
    });
    return true;
  }

  /** Runs fn when no other sync or repair touches the kernel. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const turn = this.kernelTurn.then(fn, fn);
    this.kernelTurn = turn.catch(() => undefined);
    return turn;
  }

  async resync(): Promise<boolean> {
    return this.exclusive(() => this.repairDrift());
  }

  /** Drift repair: if the kernel no longer holds what was programmed, put it back in one transaction. */
  private async repairDrift(): Promise<boolean> {
    const table = this.programmed;
    if (!table || (await this.deps.applier.matches(table))) return false;
    this.deps.log.warn({}, 'table drifted from what was programmed; replacing it');
    await this.deps.applier.replace(table);
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    for (const w of this.waiters.splice(0)) w.reject(new Error('agent stopping'));
  }
}
