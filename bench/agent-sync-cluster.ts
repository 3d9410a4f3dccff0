// A synthetic cluster as one node's agent sees it, for bench/agent-sync.ts: a datastore snapshot (pods without
// host interfaces) plus the node's local endpoints (what the CNI hand-off reports), and the single changes the
// propagation rounds apply. Seeded: the same options give the same cluster.
//
// Shape: 20 namespaces (labels team, env), pods spread over `nodes` nodes, each pod with labels from small pools
// (app: 40 values, tier: 4, version: 3) and named ports (http, metrics, grpc, dns); `policies` policies of mixed
// shapes (see policyShapes below). The local node is node-000 and holds `local` pods. Optionally ClusterNetworkPolicies
// (makeClusterPolicy below), GlobalNetworkPolicies and HostEndpoints (bench/agent-sync-global.ts).
import type { LocalEndpoint } from '../src/agent/endpoints.js';
import type { DatastoreSnapshot } from '../src/datastore/types.js';
import type { NamespaceInfo, NodeInfo, PodInfo } from '../src/model/cluster.js';
import type {
  ClusterEgressRule,
  ClusterIngressRule,
  ClusterNetworkPolicy,
} from '../src/model/cluster-network-policy.js';
import type { GlobalNetworkPolicy } from '../src/model/global-network-policy.js';
import type { HostEndpoint } from '../src/model/host-endpoint.js';
import type { ContainerPort } from '../src/model/k8s.js';
import type { LabelSelector, NetworkPolicy, PolicyPeer, PolicyRule } from '../src/model/network-policy.js';
import { Gen, prng } from '../src/policy/testdata/random.js';
import { hostEndpointOf, hostPolicies, type LabelPools, makePodGlobalPolicy } from './agent-sync-global.js';

export const LOCAL_NODE = 'node-000';
const NS_COUNT = 20;
const TEAMS = ['shop', 'billing', 'search', 'data', 'platform'];
const ENVS = ['prod', 'staging', 'dev'];
const APPS = Array.from({ length: 40 }, (_, i) => `app-${i}`);
const TIERS = ['web', 'api', 'db', 'cache'];
const VERSIONS = ['v1', 'v2', 'v3'];
export const POOLS: LabelPools = { apps: APPS, tiers: TIERS, teams: TEAMS, envs: ENVS };

export interface ClusterOptions {
  readonly pods: number;
  readonly policies: number;
  readonly nodes: number;
  /** Pods on the local node (the rest are spread evenly over the other nodes). */
  readonly local: number;
  readonly seed?: number;
  /** ClusterNetworkPolicies (half Admin, half Baseline), beside the NetworkPolicies. */
  readonly clusterPolicies?: number;
  /** GlobalNetworkPolicies selecting pods, beside the NetworkPolicies (bench/agent-sync-global.ts). */
  readonly globalPolicies?: number;
  /** A HostEndpoint for every node, and HOST_POLICIES host policies selecting them. */
  readonly hostEndpoints?: boolean;
}

/** The mutable model the bench changes; snapshot() turns it into what the datastore would hand the agent. */
export class SyntheticCluster {
  readonly g: Gen;
  readonly namespaces: NamespaceInfo[];
  readonly nodes: NodeInfo[];
  pods: PodInfo[] = [];
  policies: NetworkPolicy[] = [];
  clusterPolicies: ClusterNetworkPolicy[] = [];
  globalPolicies: GlobalNetworkPolicy[] = [];
  hostEndpoints: HostEndpoint[] = [];
  /** The generator of GlobalNetworkPolicies, and the number of the next one. */
  readonly gg: Gen;
  nextGlobalPolicy = 0;
  /** Bumped by each host policy change (bench/agent-sync-changes.ts). */
  hostPolicyVersion = 0;
  endpoints: LocalEndpoint[] = [];
  private revision = 0;
  private nextPod = 0;
  private nextPolicy = 0;
  /** Next free host number per node (pod IPs 10.<16+n/256>.<n%256>.<host>, hosts 1..250 then wrapping). */
  private readonly hostSeq: number[];

  constructor(readonly opts: ClusterOptions) {
    this.g = new Gen(prng(opts.seed ?? 1));
    this.namespaces = Array.from({ length: NS_COUNT }, (_, i) => {
      const name = `ns-${String(i).padStart(2, '0')}`;
      const labels = { team: TEAMS[i % TEAMS.length]!, env: ENVS[i % ENVS.length]! };
      return { name, labels: { ...labels, 'kubernetes.io/metadata.name': name } };
    });
    this.nodes = Array.from({ length: opts.nodes }, (_, n) => ({
      name: `node-${String(n).padStart(3, '0')}`,
      ips: [`198.18.${n >> 8}.${n & 255}`],
    }));
    this.hostSeq = this.nodes.map(() => 0);
    for (let i = 0; i < opts.local; i++) this.addPod(LOCAL_NODE);
    for (let i = 0; i < opts.pods - opts.local; i++)
      this.addPod(this.nodes[1 + (i % (opts.nodes - 1))]!.name);
    for (let i = 0; i < opts.policies; i++) this.policies.push(this.makePolicy());
    // Their own generator: adding them changes nothing else of the cluster a seed makes.
    const cg = new Gen(prng((opts.seed ?? 1) + 7919));
    for (let i = 0; i < (opts.clusterPolicies ?? 0); i++)
      this.clusterPolicies.push(this.makeClusterPolicy(cg, i));
    this.gg = new Gen(prng((opts.seed ?? 1) + 104729));
    for (let i = 0; i < (opts.globalPolicies ?? 0); i++)
      this.globalPolicies.push(makePodGlobalPolicy(this.gg, POOLS, `gnp-${this.nextGlobalPolicy++}`));
    if (opts.hostEndpoints) {
      this.hostEndpoints = this.nodes.map((n, i) => hostEndpointOf(n, i));
      this.globalPolicies.push(...hostPolicies());
    }
  }

  /**
   * Guardrails and defaults as cluster admins write them: Admin policies deny ssh and databases from other
   * teams' namespaces, pass the web tier on to NetworkPolicy, and deny the metadata address; Baseline ones deny
   * ingress from other environments and accept from their own.
   */
  private makeClusterPolicy(g: Gen, i: number): ClusterNetworkPolicy {
    const admin = i % 2 === 0;
    const team = (t: string) => ({ matchLabels: { team: t }, matchExpressions: [] });
    const env = (e: string) => ({ matchLabels: { env: e }, matchExpressions: [] });
    const tcp = (port: number) => ({ kind: 'port' as const, protocol: 'TCP' as const, port });
    const subject = g.chance(0.5)
      ? { kind: 'namespaces' as const, namespaceSelector: team(g.pick(TEAMS)) }
      : {
          kind: 'pods' as const,
          namespaceSelector: env(g.pick(ENVS)),
          podSelector: { matchLabels: { app: g.pick(APPS) }, matchExpressions: [] },
        };
    const ingress: ClusterIngressRule[] = admin
      ? [
          {
            action: 'Pass',
            peers: [{ kind: 'pods', namespaceSelector: team(g.pick(TEAMS)), podSelector: this.sel('tier') }],
            protocols: [tcp(8080)],
          },
          {
            action: 'Deny',
            peers: [{ kind: 'namespaces', namespaceSelector: team(g.pick(TEAMS)) }],
            protocols: [tcp(22), tcp(3306)],
          },
        ]
      : [
          {
            action: 'Accept',
            peers: [{ kind: 'namespaces', namespaceSelector: env(g.pick(ENVS)) }],
            protocols: [],
          },
          {
            action: 'Deny',
            peers: [{ kind: 'namespaces', namespaceSelector: { matchLabels: {}, matchExpressions: [] } }],
            protocols: [],
          },
        ];
    const egress: ClusterEgressRule[] = admin
      ? [{ action: 'Deny', peers: [{ kind: 'networks', networks: ['169.254.169.254/32'] }], protocols: [] }]
      : [];
    return {
      kind: 'ClusterNetworkPolicy',
      name: `cnp-${i}`,
      tier: admin ? 'Admin' : 'Baseline',
      priority: g.int(0, 1000),
      subject,
      ingress,
      egress,
      problems: [],
      notProgrammed: [],
    };
  }

  snapshot(): DatastoreSnapshot {
    this.revision += 1;
    return {
      revision: String(this.revision),
      namespaces: this.namespaces,
      nodes: this.nodes,
      pods: this.pods,
      policies: this.policies,
      ...(this.clusterPolicies.length > 0 ? { clusterPolicies: this.clusterPolicies } : {}),
      ...(this.globalPolicies.length > 0 ? { globalPolicies: this.globalPolicies } : {}),
      ...(this.hostEndpoints.length > 0 ? { hostEndpoints: this.hostEndpoints } : {}),
      synced: true,
    };
  }

  localPods(): PodInfo[] {
    return this.pods.filter((p) => p.node === LOCAL_NODE);
  }

  /** A new pod on `node` (with its local endpoint when the node is this one). */
  addPod(node: string): PodInfo {
    const i = this.nextPod++;
    const n = this.nodes.findIndex((x) => x.name === node);
    const host = 1 + (this.hostSeq[n]! % 250);
    this.hostSeq[n]! += 1;
    const ip = `10.${16 + (n >> 8)}.${n & 255}.${host}`;
    const pod: PodInfo = {
      namespace: this.g.pick(this.namespaces).name,
      name: `pod-${i}`,
      node,
      ips: [ip],
      labels: this.labels(),
      ports: this.ports(),
    };
    this.pods = [...this.pods, pod];
    if (node === LOCAL_NODE) {
      const iface = `pal${i.toString(16).padStart(8, '0')}`;
      const e = { containerID: `c${i}`, ifname: 'eth0', interface: iface, ips: [ip] };
      this.endpoints = [...this.endpoints, { ...e, namespace: pod.namespace, name: pod.name }];
    }
    return pod;
  }

  removePod(pod: PodInfo): void {
    this.pods = this.pods.filter((p) => p !== pod);
    this.endpoints = this.endpoints.filter((e) => !(e.namespace === pod.namespace && e.name === pod.name));
  }

  relabelPod(pod: PodInfo): void {
    const next = { ...pod, labels: { ...pod.labels, app: this.g.pick(APPS), tier: this.g.pick(TIERS) } };
    this.pods = this.pods.map((p) => (p === pod ? next : p));
  }

  addPolicy(): NetworkPolicy {
    const p = this.makePolicy();
    this.policies = [...this.policies, p];
    return p;
  }

  /** A policy change as kubectl apply makes it: same name, its first rule's ports and selector edited. */
  changePolicy(old: NetworkPolicy): void {
    const fresh = this.makePolicy(old.namespace, old.name, old.podSelector);
    this.policies = this.policies.map((p) => (p === old ? fresh : p));
  }

  private labels(): Record<string, string> {
    const labels: Record<string, string> = { app: this.g.pick(APPS), tier: this.g.pick(TIERS) };
    if (this.g.chance(0.7)) labels.version = this.g.pick(VERSIONS);
    return labels;
  }

  private ports(): ContainerPort[] {
    const out: ContainerPort[] = [{ name: 'http', containerPort: this.g.pick([80, 8080]), protocol: 'TCP' }];
    if (this.g.chance(0.5)) out.push({ name: 'metrics', containerPort: 9090, protocol: 'TCP' });
    if (this.g.chance(0.2)) out.push({ name: 'grpc', containerPort: 50051, protocol: 'TCP' });
    if (this.g.chance(0.05)) out.push({ name: 'dns', containerPort: 53, protocol: 'UDP' });
    return out;
  }

  private sel(kind: 'app' | 'tier' | 'expr' | 'all'): LabelSelector {
    const g = this.g;
    if (kind === 'all') return { matchLabels: {}, matchExpressions: [] };
    if (kind === 'app') return { matchLabels: { app: g.pick(APPS) }, matchExpressions: [] };
    if (kind === 'tier') return { matchLabels: { tier: g.pick(TIERS) }, matchExpressions: [] };
    const values = [g.pick(APPS), g.pick(APPS), g.pick(APPS)];
    return {
      matchLabels: {},
      matchExpressions: [
        { key: 'app', operator: 'In', values: [...new Set(values)] },
        { key: 'version', operator: g.chance(0.5) ? 'NotIn' : 'In', values: [g.pick(VERSIONS)] },
      ],
    };
  }

  private nsSel(): LabelSelector {
    return this.g.chance(0.5)
      ? { matchLabels: { team: this.g.pick(TEAMS) }, matchExpressions: [] }
      : { matchLabels: { env: this.g.pick(ENVS) }, matchExpressions: [] };
  }

  /** Mixed shapes, roughly in the proportions seen in real clusters (see docs/benchmarks.md). */
  private makePolicy(namespace?: string, name?: string, podSelector?: LabelSelector): NetworkPolicy {
    const g = this.g;
    const ns = namespace ?? g.pick(this.namespaces).name;
    const r = g.rnd();
    const tcp = (port?: number | string, endPort?: number) => ({
      protocol: 'TCP' as const,
      ...(port === undefined ? {} : { port }),
      ...(endPort === undefined ? {} : { endPort }),
    });
    const pod = (s: LabelSelector): PolicyPeer => ({ podSelector: s });
    let ingress: PolicyRule[] = [];
    let egress: PolicyRule[] = [];
    let selector = podSelector ?? this.sel(g.chance(0.7) ? 'app' : 'tier');
    if (r < 0.05) {
      selector = podSelector ?? this.sel('all'); // default deny ingress for the namespace
    } else if (r < 0.35) {
      ingress = [{ peers: [pod(this.sel('tier'))], ports: [tcp('http'), tcp(g.pick([80, 8080, 443]))] }];
    } else if (r < 0.55) {
      ingress = [{ peers: [{ namespaceSelector: this.nsSel() }], ports: [tcp(8080)] }];
    } else if (r < 0.65) {
      ingress = [
        {
          peers: [{ namespaceSelector: this.nsSel(), podSelector: this.sel('app') }],
          ports: [tcp('metrics')],
        },
      ];
    } else if (r < 0.75) {
      ingress = [{ peers: [pod(this.sel('expr'))], ports: [tcp(30000, 32767), tcp('grpc')] }];
    } else if (r < 0.9) {
      egress = [
        {
          peers: [
            {
              namespaceSelector: {
                matchLabels: { 'kubernetes.io/metadata.name': 'ns-00' },
                matchExpressions: [],
              },
              podSelector: this.sel('app'),
            },
          ],
          ports: [{ protocol: 'UDP', port: 'dns' }, tcp('dns')],
        },
        { peers: [pod(this.sel('tier'))], ports: [tcp('http')] },
      ];
    } else {
      egress = [
        {
          peers: [
            {
              ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '169.254.169.254/32', '192.168.0.0/16'] },
            },
          ],
          ports: [tcp(443), tcp(8000, 8999)],
        },
      ];
      ingress = [
        { peers: [{ ipBlock: { cidr: '10.16.0.0/12', except: [`10.16.${g.int(0, 40)}.0/24`] } }], ports: [] },
      ];
    }
    const types: ('Ingress' | 'Egress')[] =
      egress.length > 0 ? (ingress.length > 0 ? ['Ingress', 'Egress'] : ['Egress']) : ['Ingress'];
    return {
      kind: 'NetworkPolicy',
      namespace: ns,
      name: name ?? `np-${this.nextPolicy++}`,
      podSelector: selector,
      policyTypes: types,
      ingress,
      egress,
      problems: [],
    };
  }
}
