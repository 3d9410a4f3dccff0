// ClusterNetworkPolicy in the lab, on real packets, on both kinds of lab: `lab apply`/`lab delete` take CNP
// documents (the directory lab writes them to its cluster directory; the lab on the real control plane applies
// them through the API server, with the CRD `lab up` installs, and waits for every agent through a barrier
// CNP), and after each change the kernel's reachability matrix must equal the reference evaluator's for the
// lab's state. On the real control plane the lab's agents, as the rendered ServiceAccount, also write the
// policies' status.
//
// The oracle: test/helpers/lab.ts reads the lab's CNPs with the rest (the directory lab's files, or the API
// server's objects on the real control plane).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClusterNetworkPolicy } from '../src/model/cluster-network-policy.js';
import { findCondition } from '../src/model/cluster-policy-conditions.js';
import { type ControlPlane, controlPlanes, createLab, type Matrix, type Probe } from './helpers/lab.js';
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

  const clusterPolicies = (): readonly ClusterNetworkPolicy[] => lab.snapshot().clusterPolicies ?? [];

  /** The kernel agrees with the reference on every probe; the TCP/80 matrix, for the cases to read. */
  async function agrees(what: string): Promise<Matrix> {
    await lab.agrees(what, PROBES);
    return lab.probe('TCP', 80);
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
      assert.equal(clusterPolicies().length, 1);
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
      assert.deepEqual(clusterPolicies(), []);
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
