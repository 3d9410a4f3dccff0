// The node compiler: cluster state + node name → the node's `inet palisade` table, incrementally. Pure (no I/O);
// it keeps what it computed for the previous state and, given the next one, recomputes only what the difference
// touches:
//   - a policy that changed is recompiled (its chains and set specs depend on nothing else) and the endpoints
//     of its namespace re-check which policies select them;
//   - a pod that changed updates its own elements in each live pod-derived set (membership depends only on
//     the pod and its namespace's labels) and, when it is local, its endpoint chains;
//   - namespace labels that changed rebuild the sets whose peers select namespaces;
//   - the first address of a new family (IPv6) changes every rule, so it starts over.
// Everything not touched is reused by reference in the next table, so nft-diff.ts finds it unchanged at once.
//
// Shape (design.md "nftables shape"):
//   chain egress  (forward, priority 0):  ct established/related accept; ct invalid drop; iifname vmap @endpoints_eg
//   chain ingress (forward, priority 10): the same, oifname vmap @endpoints_in
//   chain ep_<pod>_<dir>:  jump np_<policy>_<dir> for each policy selecting the pod; drop ("isolated")
//   chain np_<policy>_<dir>: one accept rule per peer-kind × port-kind of each rule, peers in named sets
// `accept` in a policy chain ends only that base chain, so a packet between two local pods passes the sender's
// egress and then the receiver's ingress; `drop` is final. Only policies that select a pod of this node get a
// chain here, and only the sets their chains use.

import {
  accept,
  type Chain,
  createChain,
  createRule,
  drop,
  type Family,
  goto,
  type NamedSet,
  type Table,
  type VerdictMap,
} from '../ir/ir.js';
import { recordSetChange } from '../ir/set-change.js';
import type { ClusterState, NodeInfo, PodInfo } from '../model/cluster.js';
import { DEFAULT_FAILSAFES, type Failsafes } from '../model/failsafe.js';
import { type HostEndpoint, hostEndpointKey } from '../model/host-endpoint.js';
import { ClusterIndex, type StateDelta, sameStrings } from './cluster-index.js';
import { type CompiledPolicy, compilePolicy } from './compile-policy.js';
import { type StrictEncryption, strictEncryptionPart } from './encryption-chains.js';
import { type EndpointDirection, endpointDirection, pipelineKey } from './endpoint-chains.js';
import { compileHost, type HostOutput, hostInterfacesSet } from './host-chains.js';
import { baseChainName, type Direction, endpointMapName, TABLE_NAME } from './names.js';
import { comparePolicies, type OrderedPolicy } from './ordered.js';
import { type PodSetContext, type PodSetSpec, selects } from './pod-sets.js';

export interface Diagnostic {
  readonly policy: string;
  readonly problems: readonly string[];
}

export interface CompileResult {
  readonly table: Table;
  readonly diagnostics: readonly Diagnostic[];
}

const DIRECTIONS: readonly Direction[] = ['egress', 'ingress'];
const PRIORITY: Record<Direction, number> = { egress: 0, ingress: 10 };
const NONE: readonly string[] = [];

/**
 * The kernel's default nf_conntrack_tcp_loose=1 makes conntrack pick up a TCP flow from any mid-stream packet
 * as a new connection. After a revocation deletes a flow's entry, the server's next packet would then be a
 * "new" connection in the reverse direction, which the client's side may allow, and the revoked flow would
 * carry on. A TCP connection starts with a SYN: anything else that is new is dropped (and its entry, never
 * confirmed, goes with it). Every forwarded packet passes the egress chain first, so it is checked once.
 */
const noPickup = createRule({
  matches: [{ kind: 'ct-state', states: ['new'] }, { kind: 'tcp-not-syn' }],
  verdict: drop,
  comment: 'new TCP connection without SYN: no mid-stream pickup (a revoked flow stays ended)',
});

function baseChain(d: Direction): Chain {
  const key = d === 'egress' ? 'iifname' : 'oifname';
  const who = d === 'egress' ? 'sending' : 'receiving';
  return createChain(
    baseChainName(d),
    [
      createRule({
        matches: [{ kind: 'ct-state', states: ['established', 'related'] }],
        verdict: accept,
        counter: false,
        comment: 'return traffic of allowed connections',
      }),
      createRule({ matches: [{ kind: 'ct-state', states: ['invalid'] }], verdict: drop, comment: 'invalid' }),
      ...(d === 'egress' ? [noPickup] : []),
      createRule({
        vmap: { key, map: endpointMapName(d) },
        counter: false,
        comment: `${d} policy of the ${who} pod`,
      }),
    ],
    { base: { hook: 'forward', priority: PRIORITY[d], policy: 'accept' } },
  );
}

const BASE: Readonly<Record<Direction, Chain>> = {
  egress: baseChain('egress'),
  ingress: baseChain('ingress'),
};

/**
 * A pod-derived set as it stands: each member pod's elements, how many members contribute each element (two pods
 * can share one, e.g. host-network pods), and the IR set last built from them (stale once a member changed).
 * `touched` keeps, for each element whose count changed since the last build, whether that build had it: the
 * next build records exactly what it added and deleted (set-change.ts), so the diff need not compare the lists.
 */
interface PodSetState {
  readonly spec: PodSetSpec;
  readonly members: Map<string, readonly string[]>;
  readonly counts: Map<string, number>;
  readonly touched: Map<string, boolean>;
  built: NamedSet | undefined;
  stale: boolean;
}

function countIn(s: PodSetState, elements: readonly string[], by: 1 | -1): void {
  for (const e of elements) {
    const n = s.counts.get(e) ?? 0;
    if (!s.touched.has(e)) s.touched.set(e, n > 0);
    if (n + by > 0) s.counts.set(e, n + by);
    else s.counts.delete(e);
  }
}

/** Moves a member from `was` to `now` elements; false when nothing changed. */
function updateMember(s: PodSetState, key: string, was: readonly string[], now: readonly string[]): boolean {
  if (sameStrings(was, now)) return false;
  countIn(s, was, -1);
  countIn(s, now, 1);
  if (now.length > 0) s.members.set(key, now);
  else s.members.delete(key);
  s.stale = true;
  return true;
}

/** Host endpoints with problems, and those the host part could not program, as diagnostics by their key. */
function hostDiagnostics(heps: readonly HostEndpoint[], host: HostOutput): Diagnostic[] {
  const out = new Map<string, string[]>();
  for (const h of heps) if (h.problems.length > 0) out.set(hostEndpointKey(h), [...h.problems]);
  for (const p of host.problems) out.set(p.hostEndpoint, [...(out.get(p.hostEndpoint) ?? []), p.problem]);
  return [...out].map(([policy, problems]) => ({ policy, problems }));
}

export interface NodeCompilerOptions {
  /** Connections of the node that no host policy can cut (default: DEFAULT_FAILSAFES). */
  readonly failsafes?: Failsafes;
  /**
   * A pod selected by more policies than this (in one direction) gets their rules merged into its own chain
   * (compile-endpoint.ts) instead of a jump to each policy's shared chain. Default 16.
   */
  readonly mergeAbove?: number;
  /** Encryption between nodes is on: drop what would reach remote pods outside the tunnel (encryption-chains.ts). */
  readonly strictEncryption?: StrictEncryption;
}

/** A local pod: its interface, and per direction the policies that select it (absent: not isolated). */
interface Endpoint {
  readonly pod: PodInfo;
  readonly egress?: EndpointDirection;
  readonly ingress?: EndpointDirection;
}

export class NodeCompiler {
  private readonly index = new ClusterIndex();
  private families: readonly Family[] | undefined;
  private readonly compiled = new Map<string, CompiledPolicy>();
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly podSets = new Map<string, PodSetState>();
  private readonly ctx: PodSetContext;

  private readonly mergeAbove: number;
  private readonly failsafes: Failsafes;
  private readonly strictEncryption: StrictEncryption | undefined;
  /** The strict part as last built, and the nodes it was built from. */
  private strict: { nodes: readonly NodeInfo[]; out: ReturnType<typeof strictEncryptionPart> } | undefined;
  /** The host part as last built, and what it was built from (policies by epoch, host endpoints by identity). */
  private host: { epoch: number; heps: readonly HostEndpoint[]; out: HostOutput } | undefined;
  private policyEpoch = 0;

  constructor(
    readonly node: string,
    opts: NodeCompilerOptions = {},
  ) {
    this.mergeAbove = opts.mergeAbove ?? 16;
    this.failsafes = opts.failsafes ?? DEFAULT_FAILSAFES;
    this.strictEncryption = opts.strictEncryption;
    const index = this.index;
    this.ctx = { node, nsLabels: (ns) => index.nsLabels(ns), namespaces: () => index.podsByNs.keys() };
  }

  /** The table for `state`, computed from the previous call's results where the difference allows. */
  compile(state: ClusterState): CompileResult {
    try {
      const delta = this.index.update(state);
      const families = this.index.families;
      // families is [4] or [4, 6]: the length tells them apart.
      if (this.families?.length !== families.length) {
        this.families = families;
        this.reset();
      } else this.apply(delta);
      return this.assemble();
    } catch (err) {
      // The compiler is total, so this is a bug; still, never build on half-updated state: start over next time.
      this.families = undefined;
      throw err;
    }
  }

  private isLocal(p: PodInfo): boolean {
    return p.node === this.node && p.interface !== undefined;
  }

  private reset(): void {
    this.policyEpoch += 1;
    this.compiled.clear();
    this.podSets.clear();
    this.endpoints.clear();
    for (const [key, pod] of this.index.pods) if (this.isLocal(pod)) this.refreshEndpoint(key);
  }

  private apply(delta: StateDelta): void {
    if (delta.namespaceLabels) {
      for (const [name, s] of this.podSets) if (s.spec.namespaceLabels) this.podSets.delete(name);
    }
    // The host chains read only Calico's policies: other kinds changing leaves them as they are.
    if (delta.policies.some(([, b, a]) => b?.subject.calico || a?.subject.calico)) this.policyEpoch += 1;
    const touchedNs = new Set<string>();
    let everywhere = false; // a policy whose subject can be in any namespace changed
    for (const [key, before, after] of delta.policies) {
      this.compiled.delete(key);
      const ns = (before ?? after)!.subject.namespace;
      if (ns === undefined || (before && after && before.subject.namespace !== after.subject.namespace))
        everywhere = true;
      else touchedNs.add(ns);
    }
    const dirty = new Set<string>();
    for (const [key, before, after] of delta.pods) {
      for (const s of this.podSets.values()) {
        updateMember(s, key, s.members.get(key) ?? NONE, after ? s.spec.elements(after, this.ctx) : NONE);
      }
      if ((before && this.isLocal(before)) || (after && this.isLocal(after))) dirty.add(key);
    }
    if (everywhere || delta.namespaceLabels) {
      // Every local pod has its entry in `endpoints` (refreshEndpoint keeps it so): no walk over all pods.
      for (const key of this.endpoints.keys()) dirty.add(key);
    } else {
      for (const ns of touchedNs) {
        for (const [key, pod] of this.index.podsByNs.get(ns) ?? []) if (this.isLocal(pod)) dirty.add(key);
      }
    }
    for (const key of dirty) this.refreshEndpoint(key);
  }

  /** Recomputes which policies select a local pod, keeping the chains that did not change. */
  private refreshEndpoint(key: string): void {
    const pod = this.index.pods.get(key);
    if (!pod || !this.isLocal(pod)) {
      this.endpoints.delete(key);
      return;
    }
    const prev = this.endpoints.get(key);
    const mine = [
      ...(this.index.policiesByNs.get(pod.namespace)?.values() ?? []),
      ...this.index.clusterPolicies.values(),
    ];
    const nsLabels = this.ctx.nsLabels;
    const direction = (d: Direction): EndpointDirection | undefined => {
      const selecting: OrderedPolicy[] = mine
        .filter((p) => selects(p, pod, d, nsLabels))
        .sort(comparePolicies);
      if (selecting.length === 0) return undefined;
      const old = prev?.[d];
      const merging = ['Admin', 'NetworkPolicy', 'Baseline'].some(
        (t) => selecting.filter((p) => p.tier === t).length > this.mergeAbove,
      );
      if (old && !old.merged && !merging && sameStrings(old.policies, pipelineKey(selecting, d))) return old;
      // Merged chains depend on the policies' rules and the pod's ports: reuse them only when neither changed.
      if (
        old?.merged &&
        merging &&
        prev?.pod === pod &&
        old.sources.length === selecting.length &&
        old.sources.every((p, i) => p === selecting[i])
      )
        return old;
      const families = this.index.families;
      return endpointDirection({ key, pod, d, selecting, families, mergeAbove: this.mergeAbove });
    };
    this.endpoints.set(key, { pod, egress: direction('egress'), ingress: direction('ingress') });
  }

  /**
   * The host endpoint chains of this node (host-chains.ts), rebuilt only when a policy or the host endpoints
   * changed; the pods' interfaces set is refreshed every time.
   */
  private hostPart(): HostOutput {
    const heps = this.index.hostEndpointsOf(this.node);
    const podInterfaces = [...this.endpointsInterfaces()];
    const c = this.host;
    if (c && c.epoch === this.policyEpoch && c.heps === heps) {
      if (c.out.sets.length === 0) return c.out;
      const [, ...rest] = c.out.sets;
      return { ...c.out, sets: [hostInterfacesSet(podInterfaces), ...rest] };
    }
    const policies = [...this.index.clusterPolicies.values()]
      .filter((p) => p.subject.calico)
      .sort(comparePolicies);
    const out = compileHost({ hostEndpoints: heps, policies, failsafes: this.failsafes, podInterfaces });
    this.host = { epoch: this.policyEpoch, heps, out };
    return out;
  }

  /** The strict encryption chains (encryption-chains.ts), rebuilt when the nodes change; none when it is off. */
  private strictPart() {
    if (!this.strictEncryption) return undefined;
    const nodes = this.index.allNodes;
    if (this.strict?.nodes !== nodes)
      this.strict = { nodes, out: strictEncryptionPart(this.node, nodes, this.strictEncryption) };
    return this.strict.out;
  }

  private *endpointsInterfaces(): Iterable<string> {
    for (const e of this.endpoints.values()) if (e.pod.interface) yield e.pod.interface;
  }

  private compiledPolicy(key: string): CompiledPolicy {
    let c = this.compiled.get(key);
    if (!c) {
      c = compilePolicy(this.index.policies.get(key)!, this.index.families);
      this.compiled.set(key, c);
    }
    return c;
  }

  /** A pod-derived set filled from scratch: every pod of the namespaces its members can come from. */
  private fill(spec: PodSetSpec): PodSetState {
    const s: PodSetState = {
      spec,
      members: new Map(),
      counts: new Map(),
      touched: new Map(),
      built: undefined,
      stale: true,
    };
    const scope = spec.scope(this.ctx);
    const visit = (pods: Iterable<[string, PodInfo]>) => {
      for (const [key, pod] of pods) {
        const els = spec.elements(pod, this.ctx);
        if (els.length === 0) continue;
        s.members.set(key, els);
        for (const e of els) s.counts.set(e, (s.counts.get(e) ?? 0) + 1);
      }
    };
    if (scope === undefined) visit(this.index.pods);
    else for (const ns of scope) visit(this.index.podsByNs.get(ns) ?? []);
    return s;
  }

  private podSet(spec: PodSetSpec): NamedSet {
    let s = this.podSets.get(spec.name);
    if (!s || s.spec.key !== spec.key) {
      s = this.fill(spec);
      this.podSets.set(spec.name, s);
    }
    if (s.stale || !s.built) {
      const set: NamedSet = {
        kind: 'set',
        name: spec.name,
        type: spec.type,
        interval: false,
        elements: [...s.counts.keys()],
      };
      if (s.built) {
        const add: string[] = [];
        const del: string[] = [];
        for (const [e, had] of s.touched) {
          const has = s.counts.has(e);
          if (has && !had) add.push(e);
          else if (had && !has) del.push(e);
        }
        recordSetChange(set, s.built, { add, del });
      }
      s.touched.clear();
      s.built = set;
      s.stale = false;
    }
    return s.built;
  }

  private assemble(): CompileResult {
    const policyChains: Chain[] = [];
    const endpointChains: Chain[] = [];
    const maps: VerdictMap[] = [];
    const sets = new Map<string, NamedSet>();
    const used = new Map<string, PodSetSpec>();
    const endpoints = [...this.endpoints.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const host = this.hostPart();
    for (const s of host.sets) sets.set(s.name, s);
    const strict = this.strictPart();
    for (const s of strict?.sets ?? []) sets.set(s.name, s);
    for (const d of DIRECTIONS) {
      const isolated = endpoints.filter(([, e]) => e[d] !== undefined);
      const emitted = new Set<string>(host.jumped[d]);
      for (const [, e] of isolated) {
        const ep = e[d]!;
        for (const p of ep.jumped) emitted.add(p);
        if (ep.merged) {
          for (const s of ep.merged.sets) sets.set(s.name, s);
          for (const spec of ep.merged.podSets) used.set(spec.name, spec);
        }
      }
      for (const key of [...emitted].sort()) {
        const c = this.compiledPolicy(key)[d];
        policyChains.push(c.chain);
        for (const s of c.sets) sets.set(s.name, s);
        for (const spec of c.podSets) used.set(spec.name, spec);
      }
      for (const [, e] of isolated) {
        endpointChains.push(e[d]!.chain);
        endpointChains.push(...e[d]!.tierChains);
      }
      maps.push({
        kind: 'map',
        name: endpointMapName(d),
        key: 'ifname',
        elements: isolated.map(([, e]) => ({ key: e.pod.interface!, verdict: goto(e[d]!.chain.name) })),
      });
    }
    for (const spec of used.values()) sets.set(spec.name, this.podSet(spec));
    for (const name of this.podSets.keys()) if (!used.has(name)) this.podSets.delete(name);
    const diagnostics = [
      ...[...this.index.policies.entries()]
        .filter(([, p]) => p.problems.length > 0)
        .map(([policy, p]) => ({ policy, problems: p.problems })),
      ...hostDiagnostics(this.index.hostEndpointsOf(this.node), host),
    ].sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0));
    const orderedSets = [...sets.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // Declaration order (ir.ts): what is jumped to before what jumps, by name within each layer.
    const byName = (a: Chain, b: Chain) => a.name.localeCompare(b.name);
    const chains = [
      ...policyChains.sort(byName),
      ...endpointChains.sort(byName),
      ...host.chains,
      BASE.egress,
      BASE.ingress,
      ...(strict?.chains ?? []),
    ];
    return {
      table: { kind: 'table', family: 'inet', name: TABLE_NAME, sets: orderedSets, maps, chains },
      diagnostics,
    };
  }
}
