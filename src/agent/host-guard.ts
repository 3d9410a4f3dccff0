// Lockout protection in the agent: which GlobalNetworkPolicies and HostEndpoints a sync may program.
//
// First line, before programming: the guard compiles the state with every changed object and runs the connections
// the node cannot lose through the table (src/policy/lockout.ts). If one would be cut, it finds which changed
// objects cut it, by adding them one at a time to the last admitted set (host endpoints first, then by key), and
// keeps the others: a
// refused object stays at its last admitted version (or absent, if it is new) until it changes again, and the
// refusal names the object and the connection. The last admitted set starts empty, so a host policy that would
// cut the node is refused at start-up too.
// Second line, after programming (the confirm window, src/agent/host-confirm.ts): when the API server cannot be
// reached for a while after a host change, rollback() holds back every object that change admitted, and the next
// sync programs the previous host rules.
import type { ClusterState } from '../model/cluster.js';
import type { Failsafes } from '../model/failsafe.js';
import { type GlobalNetworkPolicy, globalPolicyKey } from '../model/global-network-policy.js';
import { type HostEndpoint, hostEndpointKey } from '../model/host-endpoint.js';
import { type Cut, cutConnections, type Endpoint, lockoutProbes } from '../policy/lockout.js';
import type { CompileResult } from '../policy/node-compiler.js';

type HostObject = GlobalNetworkPolicy | HostEndpoint;

export interface Refusal {
  /** The object's key: "gnp:NAME", "hep:NAME" (with the group when not palisade.dev). */
  readonly object: string;
  readonly reason: 'would-cut' | 'confirm-expired';
  /** The connection it would cut (would-cut), or what was not reachable (confirm-expired). */
  readonly connection: string;
}

export interface HostGuardOptions {
  readonly node: string;
  readonly failsafes: Failsafes;
  /** Where the agent reaches the API server (none: the API server connection is not checked). */
  readonly apiServers: () => readonly Endpoint[];
  readonly dnsServers: () => readonly string[];
}

export interface Admitted {
  readonly result: CompileResult;
  readonly refused: readonly Refusal[];
  /** Objects admitted by this sync that changed (their keys): a confirm window follows when non-empty. */
  readonly changed: readonly string[];
  /** How many compiles the decision took (1 when nothing had to be refused). */
  readonly compiles: number;
}

const fingerprints = new WeakMap<object, string>();
function version(o: HostObject | undefined): string {
  if (!o) return '';
  let f = fingerprints.get(o);
  if (f === undefined) {
    f = JSON.stringify(o);
    fingerprints.set(o, f);
  }
  return f;
}

function keyOf(o: HostObject): string {
  return o.kind === 'GlobalNetworkPolicy' ? globalPolicyKey(o) : hostEndpointKey(o);
}

/**
 * Host endpoints before policies, each by key: an endpoint on its own cuts nothing its default does not (and a
 * default-deny endpoint is refused as such), so a policy that cuts is named as the one that does.
 */
function hostEndpointsFirst(a: string, b: string): number {
  const ha = a.startsWith('hep:') ? 0 : 1;
  const hb = b.startsWith('hep:') ? 0 : 1;
  return ha - hb || (a < b ? -1 : a > b ? 1 : 0);
}

function withObjects(state: ClusterState, objects: ReadonlyMap<string, HostObject>): ClusterState {
  const all = [...objects.values()];
  return {
    ...state,
    globalPolicies: all.filter((o): o is GlobalNetworkPolicy => o.kind === 'GlobalNetworkPolicy'),
    hostEndpoints: all.filter((o): o is HostEndpoint => o.kind === 'HostEndpoint'),
  };
}

export class HostGuard {
  /** The versions last admitted, by key. */
  private admitted = new Map<string, HostObject>();
  /** Before the last change that admitted something: what rollback() goes back to. */
  private beforeLast: ReadonlyMap<string, HostObject> | undefined;
  private lastChanged: readonly string[] = [];
  /** Objects held back at the version they were refused at, and why. */
  private readonly held = new Map<string, { version: string; refusal: Refusal }>();

  constructor(private readonly opts: HostGuardOptions) {}

  /** The refusals in force (for status and events). */
  get refusals(): Refusal[] {
    return [...this.held.values()].map((h) => h.refusal);
  }

  admit(state: ClusterState, compile: (s: ClusterState) => CompileResult): Admitted {
    const wanted = new Map<string, HostObject>();
    for (const o of [...(state.globalPolicies ?? []), ...(state.hostEndpoints ?? [])])
      wanted.set(keyOf(o), o);
    // Held objects stay as admitted until they change again.
    for (const [key, h] of this.held) {
      if (version(wanted.get(key)) !== h.version) this.held.delete(key);
      else this.keepAdmitted(wanted, key);
    }
    const changed = [...new Set([...wanted.keys(), ...this.admitted.keys()])]
      .filter((k) => version(wanted.get(k)) !== version(this.admitted.get(k)))
      .sort(hostEndpointsFirst);
    let compiles = 1;
    let result = compile(withObjects(state, wanted));
    if (changed.length > 0 && this.cuts(state, wanted, result).length > 0) {
      // Something changed cuts the node off: start from what was admitted and add the changes one by one.
      const base = new Map(this.admitted);
      for (const key of changed) {
        const trial = new Map(base);
        const next = wanted.get(key);
        if (next) trial.set(key, next);
        else trial.delete(key);
        compiles += 1;
        const cuts = this.cuts(state, trial, compile(withObjects(state, trial)));
        if (cuts.length === 0) {
          if (next) base.set(key, next);
          else base.delete(key);
          continue;
        }
        const refusal: Refusal = { object: key, reason: 'would-cut', connection: cuts[0]!.connection };
        this.held.set(key, { version: version(next), refusal });
      }
      wanted.clear();
      for (const [k, v] of base) wanted.set(k, v);
      compiles += 1;
      result = compile(withObjects(state, wanted));
    }
    const admittedNow = changed.filter((k) => !this.held.has(k));
    if (admittedNow.length > 0) {
      this.beforeLast = new Map(this.admitted);
      this.lastChanged = admittedNow;
    }
    this.admitted = wanted;
    const refused = changed.flatMap((k) => this.held.get(k)?.refusal ?? []);
    return { result, refused, changed: admittedNow, compiles };
  }

  /**
   * The confirm window expired after the change that admitted `lastChanged`: hold each of them back at its
   * current version (the next admit programs the previous host rules). Returns what it held back.
   */
  rollback(unreachable: string): Refusal[] {
    const before = this.beforeLast;
    if (!before) return [];
    const out: Refusal[] = [];
    for (const key of this.lastChanged) {
      const now = this.admitted.get(key);
      const refusal: Refusal = { object: key, reason: 'confirm-expired', connection: unreachable };
      this.held.set(key, { version: version(now), refusal });
      out.push(refusal);
      const prev = before.get(key);
      if (prev) this.admitted.set(key, prev);
      else this.admitted.delete(key);
    }
    this.beforeLast = undefined;
    this.lastChanged = [];
    return out;
  }

  private keepAdmitted(wanted: Map<string, HostObject>, key: string): void {
    const prev = this.admitted.get(key);
    if (prev) wanted.set(key, prev);
    else wanted.delete(key);
  }

  private cuts(state: ClusterState, objects: ReadonlyMap<string, HostObject>, result: CompileResult): Cut[] {
    const node = state.nodes.find((n) => n.name === this.opts.node);
    const hostEndpoints = [...objects.values()].filter(
      (o): o is HostEndpoint => o.kind === 'HostEndpoint' && o.node === this.opts.node,
    );
    if (!node || hostEndpoints.length === 0) return [];
    const probes = lockoutProbes({
      nodeIps: node.ips,
      apiServers: this.opts.apiServers(),
      dnsServers: this.opts.dnsServers(),
      failsafes: this.opts.failsafes,
      hostEndpoints,
    });
    return cutConnections(result.table, probes);
  }
}
