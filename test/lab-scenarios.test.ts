// NetworkPolicy truth-table scenarios in the lab, on real packets. One 2-node lab with the base cluster of
// examples/scenarios/cluster.yaml (3 labelled namespaces, 8 pods, the port name "http" on TCP 80 or 8080 and
// "dns" on UDP 53 or 5353 depending on the pod). Each scenario is a sequence of `lab apply`/`lab delete` steps
// with the manifests of examples/scenarios/<scenario>/; after every step the kernel's matrix for TCP 80,
// TCP 8080, UDP 53 and UDP 5353 must equal the reference evaluator's for the lab's own cluster directory
// (reachable = policy allows and the destination serves the port). Between scenarios every policy is deleted
// and the base cluster restored. The suite runs on both kinds of lab: the manifest directory, and the real
// control plane (where every step goes through the API server and the agents read it as their ServiceAccount).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { evaluateFlow } from '../src/policy/reference.js';
import {
  type ControlPlane,
  controlPlanes,
  createLab,
  type Lab,
  type Matrix,
  type Probe,
} from './helpers/lab.js';
import { REPO } from './helpers/netns.js';

const SCENARIOS = join(REPO, 'examples', 'scenarios');
const CLUSTER = join(SCENARIOS, 'cluster.yaml');
const PROBES: readonly Probe[] = [
  ['TCP', 80],
  ['TCP', 8080],
  ['UDP', 53],
  ['UDP', 5353],
];

interface Scenario {
  readonly name: string;
  /** "apply FILE" or "delete FILE", FILE in examples/scenarios/<name>/. */
  readonly steps: readonly string[];
  /** The steps change pods or namespaces of the base cluster: re-apply it afterwards. */
  readonly restore?: boolean;
  /** The steps on a real control plane, where they must differ (what the API server refuses). */
  readonly kubernetesSteps?: readonly string[];
}

const SCENARIOS_TABLE: readonly Scenario[] = [
  { name: 'deny-all-ingress', steps: ['apply policy.yaml', 'delete policy.yaml'] },
  { name: 'deny-all-egress', steps: ['apply policy.yaml'] },
  { name: 'pod-selector-match-labels', steps: ['apply policy.yaml'] },
  { name: 'pod-selector-in', steps: ['apply policy.yaml'] },
  { name: 'pod-selector-notin', steps: ['apply policy.yaml'] },
  { name: 'pod-selector-exists', steps: ['apply policy.yaml'] },
  { name: 'pod-selector-doesnotexist', steps: ['apply policy.yaml'] },
  { name: 'pod-selector-empty-peer', steps: ['apply policy.yaml'] },
  { name: 'namespace-selector', steps: ['apply policy.yaml'] },
  { name: 'namespace-selector-expressions', steps: ['apply policy.yaml'] },
  { name: 'pod-and-namespace-selector-one-peer', steps: ['apply policy.yaml'] },
  { name: 'pod-and-namespace-selector-two-peers', steps: ['apply policy.yaml'] },
  { name: 'ipblock-except', steps: ['apply policy.yaml'] },
  { name: 'ipblock-except-small', steps: ['apply policy.yaml'] },
  { name: 'ipblock-egress', steps: ['apply policy.yaml'] },
  { name: 'empty-from-allows-all', steps: ['apply deny.yaml', 'apply allow.yaml', 'delete allow.yaml'] },
  { name: 'no-rules-inferred-ingress', steps: ['apply policy.yaml'] },
  { name: 'ports-number', steps: ['apply policy.yaml'] },
  { name: 'ports-named-tcp', steps: ['apply policy.yaml'] },
  { name: 'ports-named-udp', steps: ['apply policy.yaml'] },
  { name: 'ports-endport-tcp', steps: ['apply policy.yaml'] },
  { name: 'ports-endport-udp', steps: ['apply policy.yaml'] },
  { name: 'port-without-protocol', steps: ['apply policy.yaml'] },
  { name: 'protocol-without-port', steps: ['apply policy.yaml'] },
  { name: 'sctp-port-only', steps: ['apply policy.yaml'] },
  { name: 'policytypes-explicit', steps: ['apply policy.yaml'] },
  { name: 'policytypes-inferred-egress', steps: ['apply policy.yaml'] },
  { name: 'egress-to-namespace-port', steps: ['apply policy.yaml'] },
  { name: 'egress-and-ingress-both-needed', steps: ['apply policy.yaml'] },
  { name: 'multiple-peers-and-ports', steps: ['apply policy.yaml'] },
  {
    name: 'union-of-policies',
    steps: [
      'apply 1-deny.yaml',
      'apply 2-from-cache.yaml',
      'apply 3-from-backend.yaml',
      'apply 4-udp.yaml',
      'delete 2-from-cache.yaml',
      'delete 1-deny.yaml',
    ],
  },
  { name: 'namespace-isolation', steps: ['apply policy.yaml'] },
  {
    name: 'policy-update',
    steps: [
      'apply 1-from-cache.yaml',
      'apply 2-from-monitor.yaml',
      'apply 3-port-and-selector.yaml',
      'delete 4-delete.yaml',
    ],
  },
  {
    name: 'pod-relabel-into-selection',
    steps: ['apply policy.yaml', 'apply relabel.yaml', 'apply relabel-back.yaml'],
    restore: true,
  },
  {
    name: 'pod-relabel-peer',
    steps: ['apply policy.yaml', 'apply relabel.yaml', 'apply relabel-monitor.yaml'],
    restore: true,
  },
  {
    name: 'namespace-relabel',
    steps: ['apply policy.yaml', 'apply trust-ops.yaml', 'apply untrust-ops.yaml'],
    restore: true,
  },
  {
    name: 'pod-created-after-policy',
    steps: ['apply policy.yaml', 'apply late-pods.yaml', 'delete delete-late-pods.yaml'],
  },
  {
    name: 'pod-moved-to-other-node',
    steps: ['apply policy.yaml', 'apply move.yaml'],
    restore: true,
    // The API server refuses a change of spec.nodeName (immutable): a pod moves by being recreated.
    kubernetesSteps: ['apply policy.yaml', 'delete move.yaml', 'apply move.yaml'],
  },
  {
    name: 'namespace-created-and-deleted',
    steps: ['apply 1-namespace.yaml', 'apply 2-policies.yaml', 'delete 3-delete-namespace.yaml'],
  },
];

function scenarioSuite(controlPlane: ControlPlane): void {
  const lab = createLab(controlPlane === 'dir' ? 'pls' : 'plk', { timeoutMs: 500, controlPlane });
  let baseline: Matrix[] = [];
  let basePods = new Set<string>();
  const expectedNow = () => PROBES.map(([protocol, port]) => lab.expected(protocol, port));

  /** Deletes every policy, and every pod and namespace the base cluster does not have; restores the base. */
  async function reset(restore: boolean, recreate: readonly string[] = []): Promise<void> {
    await lab.deleteAllPolicies();
    // Pods whose spec a step changed cannot be changed back on the API server (immutable): recreate them.
    for (const file of recreate) await lab.palisade('lab', 'delete', '-f', file);
    const extra = Object.keys(lab.podIPs()).filter((k) => !basePods.has(k));
    const docs = extra.map((key) => {
      const [ns, name] = key.split('/') as [string, string];
      return `apiVersion: v1\nkind: Pod\nmetadata: { name: ${name}, namespace: ${ns} }\nspec: { containers: [] }\n`;
    });
    if (docs.length > 0) await lab.applyText(docs.join('---\n'), 'delete');
    if (restore) await lab.palisade('lab', 'apply', '-f', CLUSTER);
  }

  describe(`on the ${controlPlane === 'dir' ? 'manifest directory' : 'real control plane'}`, () => {
    before(async () => {
      await lab.up(2, CLUSTER);
      basePods = new Set(Object.keys(lab.podIPs()));
      baseline = expectedNow();
    });
    after(async () => {
      await lab.down();
    });

    describe('NetworkPolicy truth table in the lab agrees with the reference semantics', () => {
      it('no policy: everything served is reachable', async () => {
        await lab.agrees('no policy', PROBES);
      });

      for (const s of SCENARIOS_TABLE) {
        const steps = (controlPlane === 'kubernetes' && s.kubernetesSteps) || s.steps;
        it(s.name, async () => {
          let changed = false;
          try {
            for (const [i, step] of steps.entries()) {
              const [verb, file] = step.split(' ') as ['apply' | 'delete', string];
              await lab.palisade('lab', verb, '-f', join(SCENARIOS, s.name, file));
              await lab.agrees(`${s.name} step ${i + 1} (${step})`, PROBES);
              changed ||= JSON.stringify(expectedNow()) !== JSON.stringify(baseline);
            }
            assert.ok(
              changed,
              `${s.name}: some step must change what is reachable, or the scenario tests nothing`,
            );
          } finally {
            const recreate = s.kubernetesSteps?.flatMap((step) =>
              step.startsWith('delete ') ? [join(SCENARIOS, s.name, step.slice('delete '.length))] : [],
            );
            await reset(s.restore ?? false, controlPlane === 'kubernetes' ? recreate : []);
          }
        });
      }

      it('a node reaches its own pods under a default deny; other nodes only as policy says', async () => {
        const dirOf = (f: string) => join(SCENARIOS, 'node-to-own-pods', f);
        try {
          await lab.palisade('lab', 'apply', '-f', dirOf('deny-all.yaml'));
          await lab.agrees('deny all', PROBES);
          await checkNodes(lab, 'deny all');
          await lab.palisade('lab', 'apply', '-f', dirOf('from-underlay.yaml'));
          await checkNodes(lab, 'backend admits the underlay');
        } finally {
          await reset(false);
        }
      });

      it('SCTP probes', {
        skip: existsSync('/proc/sys/net/sctp') ? false : 'this kernel has no SCTP (CONFIG_IP_SCTP)',
      }, async () => {
        await lab.agrees('sctp', [['SCTP', 80]]);
      });
    });
  });
}

for (const controlPlane of controlPlanes()) scenarioSuite(controlPlane);

/** TCP 80 from each node's netns to every pod: own pods always; others as the reference says for the node IP. */
async function checkNodes(lab: Lab, what: string): Promise<void> {
  const state = lab.snapshot();
  const pods = state.pods.filter((p) =>
    p.ports.some((cp) => cp.containerPort === 80 && cp.protocol === 'TCP'),
  );
  const problems: string[] = [];
  for (const node of lab.nodes()) {
    const got = await Promise.all(pods.map((p) => lab.nodeConnects(node, p.ips[0]!, 80)));
    pods.forEach((p, i) => {
      const flow = { srcIp: node.underlayIP, dstIp: p.ips[0]!, protocol: 'TCP' as const, dstPort: 80 };
      const want = evaluateFlow(state, flow).allowed;
      if (p.node === node.name) assert.ok(want, `reference: ${node.name} -> own pod ${p.name} is allowed`);
      if (got[i] !== want)
        problems.push(`${node.name} -> ${p.namespace}/${p.name}: kernel ${got[i]}, reference ${want}`);
    });
  }
  assert.deepEqual(problems, [], `${what}:\n  ${problems.join('\n  ')}`);
}
