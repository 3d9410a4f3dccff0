// ClusterNetworkPolicy in the lab, on real packets, on both kinds of lab: `lab apply`/`lab delete` take CNP
// documents (the directory lab writes them to its cluster directory; the lab on the real control plane applies
// them through the API server, with the CRD `lab up` installs, and waits for every agent through a barrier
// CNP), and after each change the kernel's reachability matrix must equal the reference evaluator's for the
// lab's state. On the real control plane the lab's agents, as the rendered ServiceAccount, also write the
// policies' status.
//
// The oracle: test/helpers/lab.ts reads the directory lab's CNPs with the rest (readManifestDir); on the real
// control plane it reads namespaces, nodes, pods and NetworkPolicies only, so the CNPs are added here from the
// API server, trimmed and parsed the same way.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DatastoreSnapshot } from '../src/datastore/types.js';
import { BARRIER_CLUSTER_POLICY } from '../src/lab/kube/kube-apply.js';
import type { ClusterNetworkPolicy } from '../src/model/cluster-network-policy.js';
import { findCondition } from '../src/model/cluster-policy-conditions.js';
import type { Protocol } from '../src/model/k8s.js';
import { parseManifests } from '../src/model/manifests.js';
import { evaluateFlow } from '../src/policy/reference.js';
import {
  type ControlPlane,
  controlPlanes,
  createLab,
  type Matrix,
  matrixDiff,
  type Probe,
} from './helpers/lab.js';
import { REPO } from './helpers/netns.js';

const PROBES: readonly Probe[] = [
  ['TCP', 80],
  ['UDP', 53],
];

const ADMIN_DENY = `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: { name: admin-deny-billing-to-db }
spec:
  tier: Admin
  priority: 10
  subject: { pods: { namespaceSelector: { matchLabels: { team: shop } }, podSelector: { matchLabels: { app: db } } } }
  ingress:
    - action: Deny
      from: [{ namespaces: { matchLabels: { team: billing } } }]
      protocols: [{ tcp: { destinationPort: { number: 80 } } }]
`;

const BASELINE_ISOLATE_SHOP = `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: { name: baseline-isolate-shop }
spec:
  tier: Baseline
  priority: 10
  subject: { namespaces: { matchLabels: { team: shop } } }
  ingress: [{ action: Deny, from: [{ namespaces: {} }] }]
`;

function suite(controlPlane: ControlPlane): void {
  const lab = createLab(controlPlane === 'dir' ? 'plc' : 'plck', { controlPlane });

  async function clusterPolicies(): Promise<readonly ClusterNetworkPolicy[]> {
    if (controlPlane === 'dir') return lab.snapshot().clusterPolicies ?? [];
    const out = await lab.palisade('lab', 'kubectl', 'get', 'clusternetworkpolicies', '-o', 'json');
    const items = (
      JSON.parse(out) as {
        items: { apiVersion: string; kind: string; metadata: { name: string }; spec: unknown }[];
      }
    ).items
      .filter((o) => o.metadata.name !== BARRIER_CLUSTER_POLICY)
      .map((o) => ({
        apiVersion: o.apiVersion,
        kind: o.kind,
        metadata: { name: o.metadata.name },
        spec: o.spec,
      }));
    return parseManifests(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }), 'cnps').flatMap((o) =>
      o.kind === 'ClusterNetworkPolicy' ? [o] : [],
    );
  }

  function expected(snap: DatastoreSnapshot, protocol: Protocol, port: number): Matrix {
    const out: Matrix = {};
    for (const src of snap.pods) {
      const row: Record<string, boolean> = {};
      for (const dst of snap.pods) {
        const flow = { srcIp: src.ips[0]!, dstIp: dst.ips[0]!, protocol, dstPort: port };
        const serves = dst.ports.some((p) => p.containerPort === port && p.protocol === protocol);
        row[`${dst.namespace}/${dst.name}`] = serves && evaluateFlow(snap, flow).allowed;
      }
      out[`${src.namespace}/${src.name}`] = row;
    }
    return out;
  }

  async function agrees(what: string): Promise<Matrix> {
    const snap = { ...lab.snapshot(), clusterPolicies: await clusterPolicies() };
    const got = await Promise.all(PROBES.map(([protocol, port]) => lab.probe(protocol, port)));
    const diffs = PROBES.flatMap(([protocol, port], i) =>
      matrixDiff(got[i]!, expected(snap, protocol, port)).map((d) => `${protocol}/${port} ${d}`),
    );
    assert.deepEqual(diffs, [], `${what} differs:\n  ${diffs.join('\n  ')}`);
    return got[0]!;
  }

  describe(`ClusterNetworkPolicy in the lab (${controlPlane}) agrees with the reference semantics`, () => {
    before(async () => {
      await lab.up(2, join(REPO, 'examples', 'demo.yaml'));
    });
    after(async () => {
      await lab.down();
    });

    it('an Admin Deny closes billing → shop/db on TCP 80 only', async () => {
      await lab.applyText(ADMIN_DENY);
      assert.equal((await clusterPolicies()).length, 1);
      const tcp80 = await agrees('admin deny');
      assert.equal(tcp80['billing/api']!['shop/db'], false);
      assert.equal(tcp80['shop/web']!['shop/db'], true);
    });

    it('a Baseline Deny isolates shop; a NetworkPolicy selecting shop/web overrides it there', async () => {
      await lab.applyText(BASELINE_ISOLATE_SHOP);
      const isolated = await agrees('baseline deny');
      assert.equal(isolated['billing/api']!['shop/web'], false);
      await lab.palisade(
        'lab',
        'apply',
        '-f',
        join(REPO, 'examples', 'policies', 'allow-web-from-billing.yaml'),
      );
      const overridden = await agrees('baseline overridden by a NetworkPolicy');
      assert.equal(overridden['billing/api']!['shop/web'], true);
      assert.equal(overridden['billing/api']!['shop/cart'], false);
    });

    it('lab delete of a CNP reopens what only it denied', async () => {
      await lab.applyText(ADMIN_DENY, 'delete');
      await lab.applyText(BASELINE_ISOLATE_SHOP, 'delete');
      assert.deepEqual(await clusterPolicies(), []);
      const open = await agrees('after deletion');
      assert.equal(open['billing/api']!['shop/db'], true);
    });

    if (controlPlane === 'kubernetes') {
      it("the lab's agents wrote the policies' status, as their ServiceAccount", async () => {
        await lab.applyText(BASELINE_ISOLATE_SHOP);
        const deadline = Date.now() + 20_000;
        for (;;) {
          const out = await lab.palisade(
            'lab',
            'kubectl',
            'get',
            'clusternetworkpolicy',
            'baseline-isolate-shop',
            '-o',
            'json',
          );
          const conditions = (JSON.parse(out) as { status?: { conditions?: unknown } }).status?.conditions;
          const accepted = findCondition(conditions, 'Accepted');
          const programmed = findCondition(conditions, 'Programmed');
          if (accepted && programmed) {
            assert.deepEqual(
              [accepted.status, programmed.status, programmed.reason],
              ['True', 'True', 'Programmed'],
            );
            break;
          }
          if (Date.now() > deadline) assert.fail(`no status after 20 s: ${out}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      });
    }
  });
}

for (const controlPlane of controlPlanes()) suite(controlPlane);
