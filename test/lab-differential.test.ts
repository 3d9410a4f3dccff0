// Differential check in the lab: random NetworkPolicy manifests (valid by the API rules) over the labels,
// namespaces and ports of examples/scenarios/cluster.yaml, applied to a 2-node lab; every pod-to-pod verdict of
// the kernel on TCP 80/8080 and UDP 53/5353 must equal the reference evaluator's. Any mismatch is a bug: the
// failure prints the seed, the round and the policies. Reproduce with LAB_DIFF_SEED=<seed> LAB_DIFF_ROUNDS=<n>.
// It runs on both kinds of lab; on the real control plane the API server also validates every random policy
// (a generator that makes one the server refuses fails the round).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { Gen, prng } from '../src/policy/testdata/random.js';
import { type ControlPlane, controlPlanes, createLab, type Probe } from './helpers/lab.js';
import { REPO } from './helpers/netns.js';

// Pods selected by two or more policies get them merged into one chain (compile-endpoint.ts), the others jump
// to each policy's chain: one run covers both forms on real packets.
process.env.PALISADE_AGENT_MERGE_ABOVE ??= '1';

const SEED = Number(process.env.LAB_DIFF_SEED ?? 20240611);
const ROUNDS = Number(process.env.LAB_DIFF_ROUNDS ?? 15);
const PROBES: readonly Probe[] = [
  ['TCP', 80],
  ['TCP', 8080],
  ['UDP', 53],
  ['UDP', 5353],
];
const NAMESPACES = ['frontend', 'backend', 'ops'];
const POD_LABELS: Record<string, string[]> = {
  app: ['web', 'cache', 'api', 'db', 'monitor'],
  tier: ['front', 'back', 'data'],
  env: ['prod', 'canary'],
  role: ['scraper'],
};
const NS_LABELS: Record<string, string[]> = {
  team: ['web', 'api', 'ops'],
  tier: ['edge', 'core'],
  'kubernetes.io/metadata.name': NAMESPACES,
};
const PORT_NUMBERS = [53, 80, 443, 5353, 8080];
const PORT_NAMES = ['http', 'dns', 'metrics', 'alt', 'db'];

type Doc = Record<string, unknown>;

function selector(g: Gen, vocabulary: Record<string, string[]>): Doc {
  if (g.chance(0.25)) return {};
  const keys = Object.keys(vocabulary);
  const out: Doc = {};
  if (g.chance(0.6)) {
    const k = g.pick(keys);
    out.matchLabels = { [k]: g.pick(vocabulary[k]!) };
  }
  if (!out.matchLabels || g.chance(0.4)) {
    out.matchExpressions = Array.from({ length: g.int(1, 2) }, () => {
      const key = g.pick(keys);
      const operator = g.pick(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const);
      if (operator === 'Exists' || operator === 'DoesNotExist') return { key, operator };
      return {
        key,
        operator,
        values: [...new Set([g.pick(vocabulary[key]!), ...g.some(vocabulary[key]!, 1)])],
      };
    });
  }
  return out;
}

function ipBlock(g: Gen): Doc {
  const x = g.int(0, 1); // node-1 and node-2 pod CIDRs
  switch (g.int(0, 3)) {
    case 0:
      return { cidr: '10.244.0.0/16', except: [`10.244.${x}.0/24`] };
    case 1:
      return { cidr: `10.244.${x}.0/24`, except: [`10.244.${x}.${g.pick([0, 2, 4])}/31`] };
    case 2:
      return { cidr: `10.244.${x}.0/24` };
    default:
      return { cidr: '198.18.0.0/24' };
  }
}

function peer(g: Gen): Doc {
  switch (g.int(0, 3)) {
    case 0:
      return { podSelector: selector(g, POD_LABELS) };
    case 1:
      return { namespaceSelector: selector(g, NS_LABELS) };
    case 2:
      return { namespaceSelector: selector(g, NS_LABELS), podSelector: selector(g, POD_LABELS) };
    default:
      return { ipBlock: ipBlock(g) };
  }
}

function port(g: Gen): Doc {
  const out: Doc = {};
  const protocol = g.pick(['TCP', 'UDP', 'UDP', 'SCTP', undefined]);
  if (protocol) out.protocol = protocol;
  switch (g.int(0, 3)) {
    case 0:
      break; // every port of the protocol
    case 1:
      out.port = g.pick(PORT_NUMBERS);
      break;
    case 2: {
      const from = g.pick([50, 53, 79, 80, 5000, 8000, 8080]);
      out.port = from;
      out.endPort = from + g.pick([0, 1, 10, 500]);
      break;
    }
    default:
      out.port = g.pick(PORT_NAMES);
  }
  return out;
}

function rules(g: Gen, field: 'from' | 'to'): Doc[] {
  return Array.from({ length: g.int(0, 2) }, () => {
    const rule: Doc = {};
    if (!g.chance(0.2)) rule[field] = Array.from({ length: g.int(1, 2) }, () => peer(g));
    if (!g.chance(0.3)) rule.ports = Array.from({ length: g.int(1, 2) }, () => port(g));
    return rule;
  });
}

/** One NetworkPolicy manifest, valid as the API server would require. */
export function randomPolicyManifest(g: Gen, name: string): Doc {
  const spec: Doc = { podSelector: g.chance(0.3) ? {} : selector(g, POD_LABELS) };
  if (g.chance(0.75)) spec.policyTypes = g.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']]);
  if (g.chance(0.8)) spec.ingress = rules(g, 'from');
  if (g.chance(0.6)) spec.egress = rules(g, 'to');
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: g.pick(NAMESPACES) },
    spec,
  };
}

function clusterSelection(g: Gen): Doc {
  return g.chance(0.5)
    ? { namespaces: selector(g, NS_LABELS) }
    : { pods: { namespaceSelector: selector(g, NS_LABELS), podSelector: selector(g, POD_LABELS) } };
}

function clusterProtocol(g: Gen): Doc {
  if (g.chance(0.25)) return { destinationNamedPort: g.pick(PORT_NAMES) };
  const protocol = g.pick(['tcp', 'udp', 'sctp']);
  const start = g.pick([53, 79, 80, 5353, 8000, 8080]);
  const destinationPort = g.chance(0.6)
    ? { number: start }
    : { range: { start, end: start + g.pick([1, 10, 500]) } };
  return { [protocol]: { destinationPort } };
}

function clusterRules(g: Gen, field: 'from' | 'to'): Doc[] {
  return Array.from({ length: g.int(1, 3) }, (_, i) => {
    const peers = Array.from({ length: g.int(1, 2) }, (): Doc => {
      if (field === 'to' && g.chance(0.2))
        return { networks: [g.pick(['10.244.0.0/24', '10.244.1.0/25', '198.18.0.0/24'])] };
      if (field === 'to' && g.chance(0.1))
        return { nodes: selector(g, { 'kubernetes.io/hostname': ['node-1', 'node-2'] }) };
      return clusterSelection(g);
    });
    const protocols = Array.from({ length: g.int(0, 2) }, () => clusterProtocol(g));
    const named = protocols.some((p) => 'destinationNamedPort' in p);
    // Named ports only with pods and namespaces peers, as the API requires.
    const kept = named ? peers.filter((p) => !('networks' in p) && !('nodes' in p)) : peers;
    return {
      ...(g.chance(0.3) ? { name: `rule-${i}` } : {}),
      action: g.pick(['Accept', 'Deny', 'Pass']),
      [field]: kept.length > 0 ? kept : [clusterSelection(g)],
      ...(protocols.length > 0 ? { protocols } : {}),
    };
  });
}

/** One ClusterNetworkPolicy manifest, valid as the CRD requires: both tiers, priorities that collide. */
export function randomClusterPolicyManifest(g: Gen, name: string): Doc {
  const spec: Doc = {
    tier: g.pick(['Admin', 'Baseline']),
    priority: g.pick([0, 10, 10, 500]),
    subject: clusterSelection(g),
  };
  if (g.chance(0.7)) spec.ingress = clusterRules(g, 'from');
  if (g.chance(0.5)) spec.egress = clusterRules(g, 'to');
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name },
    spec,
  };
}

const SCENARIO_PODS = parseAllDocuments(
  readFileSync(join(REPO, 'examples', 'scenarios', 'cluster.yaml'), 'utf8'),
)
  .map((d) => d.toJSON() as Doc)
  .filter((d) => d.kind === 'Pod');

/** One of the scenario's pods with new labels (same spec), and the pod as it was, to put back. */
function relabelled(g: Gen): { changed: Doc; original: Doc } {
  const original = g.pick(SCENARIO_PODS);
  const metadata = original.metadata as Doc;
  const labels: Record<string, string> = {};
  for (const [k, values] of Object.entries(POD_LABELS)) if (g.chance(0.6)) labels[k] = g.pick(values);
  return { changed: { ...original, metadata: { ...metadata, labels } }, original };
}

function differential(controlPlane: ControlPlane): void {
  const lab = createLab(controlPlane === 'dir' ? 'pld' : 'plx', { timeoutMs: 500, controlPlane });
  describe(`random policies on the ${controlPlane === 'dir' ? 'manifest directory' : 'real control plane'}: the kernel agrees with the reference evaluator`, () => {
    before(async () => {
      await lab.up(2, join(REPO, 'examples', 'scenarios', 'cluster.yaml'));
    });
    after(async () => {
      await lab.down();
    });
    const g = new Gen(prng(SEED));
    for (let round = 1; round <= ROUNDS; round++) {
      // From round 6 on, ClusterNetworkPolicies of both tiers beside the NetworkPolicies.
      const policies = [
        ...Array.from({ length: g.int(round > 5 ? 0 : 1, 6) }, (_, i) =>
          randomPolicyManifest(g, `r${round}p${i}`),
        ),
        ...(round > 5
          ? Array.from({ length: g.int(1, 4) }, (_, i) => randomClusterPolicyManifest(g, `r${round}c${i}`))
          : []),
      ];
      const text = policies.map((p) => stringify(p)).join('---\n');
      // With ClusterNetworkPolicies, a pod is then relabelled under them and the verdicts checked again.
      const relabel = round > 5 ? relabelled(g) : undefined;
      it(`seed ${SEED} round ${round}: ${policies.length} policies${relabel ? ', then a relabel' : ''}`, async () => {
        const check = async (what: string) => {
          const diffs = await lab.mismatches(`seed ${SEED} round ${round}${what}`, PROBES);
          assert.deepEqual(
            diffs,
            [],
            `seed ${SEED} round ${round}${what}: kernel and reference differ on ${diffs.length} pairs:\n  ${diffs.join('\n  ')}\npolicies:\n${text}${relabel ? `\nrelabelled:\n${stringify(relabel.changed)}` : ''}`,
          );
        };
        try {
          await lab.applyText(text);
          assert.equal(lab.policies().length, policies.length, 'every policy reached the lab');
          await check('');
          if (relabel) {
            await lab.applyText(stringify(relabel.changed));
            await check(' after the relabel');
          }
        } finally {
          if (relabel) await lab.applyText(stringify(relabel.original));
          await lab.deleteAllPolicies();
        }
      });
    }
  });
}

for (const controlPlane of controlPlanes()) differential(controlPlane);
