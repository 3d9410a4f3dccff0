// `lab probe --from X --to Y` on both kinds of lab: hostNetwork pods serving on their node's address, the
// outside host probing from its extra addresses (on the underlay and routed via it), pods, nodes and NodePorts,
// and verdicts that tell connected (and who answered) from refused from dropped, for TCP and UDP. The drops
// come from an nftables table of the test's own inside a lab node's netns, removed after.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PairResult } from '../src/lab/probe-pairs.js';
import { controlPlanes, createLab } from './helpers/lab.js';
import { runner } from './helpers/netns.js';

const PODS = `apiVersion: v1
kind: Namespace
metadata: { name: shop }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: shop, labels: { app: web } }
spec:
  nodeName: node-1
  containers: [{ name: web, image: lab/pod-server, ports: [{ containerPort: 80 }, { containerPort: 80, protocol: UDP }] }]
---
apiVersion: v1
kind: Pod
metadata: { name: db, namespace: shop, labels: { app: db } }
spec: { nodeName: node-2, containers: [{ name: db, image: lab/pod-server, ports: [{ containerPort: 5432 }] }] }
---
apiVersion: v1
kind: Pod
metadata: { name: host-agent, namespace: default, labels: { app: host-agent } }
spec:
  nodeName: node-2
  hostNetwork: true
  containers:
    - name: main
      image: lab/pod-server
      ports: [{ containerPort: 8081 }, { containerPort: 8081, protocol: UDP }]
`;

/** With a control plane only: kube-proxy serves it on every node's address. */
const NODE_PORT = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  type: NodePort
  selector: { app: web }
  ports: [{ name: tcp, port: 80, nodePort: 30080 }, { name: udp, port: 80, protocol: UDP, nodePort: 30080 }]
`;

/** "from -> to: verdict peer", one per pair, for assertions that show every pair when they fail. */
function summary(results: readonly PairResult[]): string[] {
  return results.map((r) => `${r.from} -> ${r.to}: ${r.verdict} ${r.peer ?? '-'}`);
}

function expect(from: readonly string[], to: readonly string[], verdict: string, peer: string): string[] {
  return from.flatMap((f) => to.map((t) => `${f} -> ${t}: ${verdict} ${peer}`));
}

for (const controlPlane of controlPlanes()) {
  const lab = createLab('plpp', { controlPlane, timeoutMs: 600, outsideAddresses: ['10.240.0.5/16'] });

  describe(`lab probe --from --to (${controlPlane})`, () => {
    before(async () => {
      const t0 = Date.now();
      await lab.up(2);
      await lab.applyText(PODS);
      if (controlPlane === 'kubernetes') await lab.applyText(NODE_PORT);
      console.error(`lab up and pods (${controlPlane}): ${Date.now() - t0} ms`);
    });
    after(async () => {
      await lab.down();
    });

    it("a hostNetwork pod serves on its node's address: from a pod, a node and outside, TCP and UDP", async () => {
      const from = ['shop/web', 'node-1', 'node-2', 'outside', 'outside@203.0.113.10'];
      const to = ['node-2:8081', 'default/host-agent:8081'];
      for (const protocol of ['TCP', 'UDP'] as const) {
        const got = await lab.probePairs(from, to, { protocol });
        assert.deepEqual(summary(got), expect(from, to, 'connected', 'default/host-agent'), protocol);
        assert.ok(
          got.every(
            (r) => r.address === '198.18.0.12' && r.port === 8081 && r.protocol === protocol.toLowerCase(),
          ),
        );
      }
    });

    it('outside reaches pods from each kind of its addresses (underlay, routed, --outside-address); nodes do too', async () => {
      const from = [
        'outside',
        'outside@198.18.0.5',
        'outside@203.0.113.11',
        'outside@10.240.0.5',
        'node-1',
        'node-2',
      ];
      const got = await lab.probePairs(from, ['shop/web', 'shop/db:5432']);
      assert.deepEqual(summary(got), [
        ...from.flatMap((f) => [
          `${f} -> shop/web: connected shop/web`,
          `${f} -> shop/db:5432: connected shop/db`,
        ]),
      ]);
      const sources = got.filter((r) => r.to === 'shop/web').map((r) => r.source);
      assert.deepEqual(sources, [null, '198.18.0.5', '203.0.113.11', '10.240.0.5', null, null]);
    });

    it('pods and nodes reach the outside host at each of its addresses, which answers as "outside"', async () => {
      const from = ['shop/web', 'default/host-agent', 'node-1'];
      const to = ['outside', 'outside@203.0.113.10:443', 'outside@10.240.0.5'];
      assert.deepEqual(summary(await lab.probePairs(from, to)), expect(from, to, 'connected', 'outside'));
      const udp = await lab.probePairs(from, ['outside:53', 'outside@203.0.113.11:53'], { protocol: 'UDP' });
      assert.deepEqual(
        summary(udp),
        expect(from, ['outside:53', 'outside@203.0.113.11:53'], 'connected', 'outside'),
      );
    });

    it('a port nothing serves is refused, TCP and UDP, on pods, nodes and outside', async () => {
      const from = ['shop/web', 'node-1', 'outside@203.0.113.10'];
      const to = ['shop/web:9999', 'node-2:9999', 'shop/db:9999', 'outside:9999'];
      for (const protocol of ['TCP', 'UDP'] as const) {
        const got = await lab.probePairs(from, to, { protocol });
        assert.deepEqual(summary(got), expect(from, to, 'refused', '-'), protocol);
        assert.ok(
          got.every((r) => r.ms < 500),
          `refusals come back at once: ${got.map((r) => r.ms)}`,
        );
      }
    });

    it('a port dropped by a rule in a node netns is dropped, not refused (input and forward, TCP and UDP)', async () => {
      const node2 = lab.nodes().find((n) => n.name === 'node-2')!;
      const db = lab.pod('shop/db');
      const netns = `/run/netns/${node2.netns}`;
      const table = `table inet plpp_test {
  chain input { type filter hook input priority -10; meta l4proto { tcp, udp } th dport 8081 drop; }
  chain forward { type filter hook forward priority -10; ip daddr ${db.ip} tcp dport 5432 drop; }
}
`;
      await runner.run(['nft', '-f', '-'], { netns, input: table });
      try {
        const from = ['shop/web', 'node-1', 'outside', 'outside@203.0.113.10'];
        for (const protocol of ['TCP', 'UDP'] as const) {
          const got = await lab.probePairs(from, ['node-2:8081'], { protocol });
          assert.deepEqual(summary(got), expect(from, ['node-2:8081'], 'dropped', '-'), protocol);
          assert.ok(
            got.every((r) => r.reason === 'timeout' && r.ms >= 550),
            protocol,
          );
        }
        const forwarded = await lab.probePairs(['shop/web', 'outside@10.240.0.5'], ['shop/db:5432']);
        assert.deepEqual(
          summary(forwarded),
          expect(['shop/web', 'outside@10.240.0.5'], ['shop/db:5432'], 'dropped', '-'),
        );
      } finally {
        await runner.run(['nft', 'delete', 'table', 'inet', 'plpp_test'], { netns });
      }
      const again = await lab.probePairs(['outside'], ['node-2:8081', 'shop/db:5432']);
      assert.deepEqual(summary(again), [
        'outside -> node-2:8081: connected default/host-agent',
        'outside -> shop/db:5432: connected shop/db',
      ]);
    });

    it('names a bad pair in its error: an address the outside host does not hold, a pod that does not run', async () => {
      await assert.rejects(
        lab.probePairs(['outside@198.18.0.99'], ['node-1']),
        /198\.18\.0\.99 is not an outside address \(198\.18\.0\.3, 198\.18\.0\.4, .*10\.240\.0\.5\)/,
      );
      await assert.rejects(
        lab.probePairs(['outside'], ['shop/cart']),
        /--to: no pod shop\/cart runs in the lab/,
      );
    });

    if (controlPlane === 'kubernetes') {
      it('a NodePort from outside on either node shows the backend pod that answered, TCP and UDP', async () => {
        const from = ['outside', 'outside@203.0.113.10'];
        const to = ['node-1:30080', 'node-2:30080'];
        for (const protocol of ['TCP', 'UDP'] as const) {
          const got = await lab.probePairs(from, to, { protocol });
          assert.deepEqual(summary(got), expect(from, to, 'connected', 'shop/web'), protocol);
        }
      });
    }
  });
}
