// ClusterNetworkPolicy's node-facing semantics on real packets, on the lab that runs the real control plane
// (its kubelets run hostNetwork pods in the node's netns, with the node's address, and register Nodes with the
// kubelet's labels): a `nodes` peer is the addresses of the nodes whose labels match, not the pods on them; a
// hostNetwork pod is neither a subject nor a `pods` peer (its traffic is the node's). Each expectation is checked
// by the reference evaluator on the lab's state too, so the oracle and the kernel are held to the same reading.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { evaluateFlow } from '../src/policy/reference.js';
import { controlPlanes, createLab } from './helpers/lab.js';
import { runner } from './helpers/netns.js';

const PODS = `apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { team: shop } }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: shop, labels: { app: web } }
spec: { nodeName: node-1, containers: [{ name: web, image: lab/pod-server, ports: [{ containerPort: 80 }] }] }
---
apiVersion: v1
kind: Pod
metadata: { name: db, namespace: shop, labels: { app: db } }
spec: { nodeName: node-2, containers: [{ name: db, image: lab/pod-server, ports: [{ containerPort: 80 }] }] }
---
apiVersion: v1
kind: Pod
metadata: { name: host-agent, namespace: default, labels: { app: host-agent } }
spec:
  nodeName: node-2
  hostNetwork: true
  containers: [{ name: main, image: lab/pod-server, ports: [{ containerPort: 8081 }] }]
`;

const cnp = (name: string, spec: string) =>
  `apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: { name: ${name} }\nspec:\n${spec}`;

/** Admin: shop may not reach node-2's own addresses. */
const DENY_NODE_2 = cnp(
  'shop-not-to-node-2',
  `  tier: Admin
  priority: 5
  subject: { namespaces: { matchLabels: { team: shop } } }
  egress: [{ action: Deny, to: [{ nodes: { matchLabels: { kubernetes.io/hostname: node-2 } } }] }]
`,
);

/** Admin: shop may not reach pods of namespace default (the hostNetwork pod is not one of them as a peer). */
const DENY_DEFAULT_PODS = cnp(
  'shop-not-to-default-pods',
  `  tier: Admin
  priority: 5
  subject: { namespaces: { matchLabels: { team: shop } } }
  egress: [{ action: Deny, to: [{ pods: { namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: default } }, podSelector: {} } }] }]
`,
);

/** Admin: nothing reaches pods of namespace default (the hostNetwork pod is not a subject). */
const ISOLATE_DEFAULT = cnp(
  'isolate-default',
  `  tier: Admin
  priority: 5
  subject: { namespaces: { matchLabels: { kubernetes.io/metadata.name: default } } }
  ingress: [{ action: Deny, from: [{ namespaces: {} }] }]
`,
);

for (const controlPlane of controlPlanes().filter((c) => c === 'kubernetes')) {
  const lab = createLab('plnd', { controlPlane, timeoutMs: 500 });

  async function connects(fromPod: string, ip: string, port: number): Promise<boolean> {
    const { netns } = lab.pod(fromPod);
    return runner.run(['nc', '-z', '-w1', ip, String(port)], { netns: `/run/netns/${netns}` }).then(
      () => true,
      () => false,
    );
  }

  /** The reference's verdict for web → ip:port on the lab's state, with the CNPs the API server holds. */
  async function reference(ip: string, port: number): Promise<boolean> {
    const out = await lab.palisade('lab', 'kubectl', 'get', 'clusternetworkpolicies', '-o', 'json');
    const names = (JSON.parse(out) as { items: { metadata: { name: string } }[] }).items.map(
      (i) => i.metadata.name,
    );
    const snap = lab.snapshot();
    assert.ok(
      names.every(
        (n) => n === 'palisade-lab-barrier' || (snap.clusterPolicies ?? []).some((c) => c.name === n),
      ),
    );
    const web = lab.pod('shop/web');
    return evaluateFlow(snap, { srcIp: web.ip, dstIp: ip, protocol: 'TCP', dstPort: port }).allowed;
  }

  describe('ClusterNetworkPolicy and nodes on the real control plane', () => {
    let node2 = '';
    before(async () => {
      await lab.up(2);
      await lab.applyText(PODS);
      node2 = lab.nodes().find((n) => n.name === 'node-2')!.underlayIP;
    });
    after(async () => {
      await lab.down();
    });

    it('a nodes peer denies the node address (the hostNetwork pod on it), not the pods on that node', async () => {
      const db = lab.pod('shop/db');
      assert.equal(await connects('shop/web', node2, 8081), true, 'before: web reaches node-2:8081');
      await lab.applyText(DENY_NODE_2);
      try {
        assert.equal(await reference(node2, 8081), false, 'the reference denies node-2:8081');
        assert.equal(await connects('shop/web', node2, 8081), false, 'web no longer reaches node-2:8081');
        assert.equal(await reference(db.ip, 80), true);
        assert.equal(await connects('shop/web', db.ip, 80), true, 'web still reaches shop/db on node-2');
      } finally {
        await lab.applyText(DENY_NODE_2, 'delete');
      }
      assert.equal(
        await connects('shop/web', node2, 8081),
        true,
        'after delete: web reaches node-2:8081 again',
      );
    });

    it('a hostNetwork pod is not a pods peer: denying pods of its namespace leaves the node address open', async () => {
      await lab.applyText(DENY_DEFAULT_PODS);
      try {
        assert.equal(await reference(node2, 8081), true);
        assert.equal(await connects('shop/web', node2, 8081), true);
      } finally {
        await lab.applyText(DENY_DEFAULT_PODS, 'delete');
      }
    });

    it('a hostNetwork pod is not a subject: isolating its namespace leaves it reachable', async () => {
      await lab.applyText(ISOLATE_DEFAULT);
      try {
        assert.equal(await reference(node2, 8081), true);
        assert.equal(await connects('shop/web', node2, 8081), true);
      } finally {
        await lab.applyText(ISOLATE_DEFAULT, 'delete');
      }
    });
  });
}
