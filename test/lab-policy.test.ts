// NetworkPolicy in the lab, on real packets: after each change the kernel's reachability matrix (probe) must
// equal what the reference evaluator says for the lab's own cluster state. Two nodes, two namespaces.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { countFalse, createLab, type Probe } from './helpers/lab.js';
import { REPO, runner } from './helpers/netns.js';

const lab = createLab('plp');
const fx = lab.fx;
const palisade = lab.palisade;
const probe = lab.probe;
const POLICIES = join(REPO, 'examples', 'policies');
const PROBES: readonly Probe[] = [
  ['TCP', 80],
  ['UDP', 53],
  ['TCP', 8080],
];
const agrees = (what: string) => lab.agrees(what, PROBES);

before(async () => {
  await lab.up(2, join(REPO, 'examples', 'demo.yaml'));
});
after(async () => {
  await lab.down();
});

describe('NetworkPolicy in the lab agrees with the reference semantics', () => {
  it('no policy: all open', async () => {
    await agrees('no policy');
    assert.equal(countFalse(await probe('TCP', 80)), 0);
  });
  it('default deny in shop', async () => {
    await palisade('lab', 'apply', '-f', join(POLICIES, 'default-deny-shop.yaml'));
    await agrees('default deny');
    assert.ok(countFalse(await probe('TCP', 80)) > 0, 'something is denied');
  });
  it("each node's agent is healthy, ready, and exports metrics of what it programmed", async () => {
    for (const node of ['node-1', 'node-2']) {
      const sock = join(lab.dir, 'nodes', node, 'run', 'agent.sock');
      for (const [path, want] of [
        ['/healthz', /ok/],
        ['/readyz', /ready/],
        ['/metrics', /^palisade_rules\{node="node-\d"\} \d+$/m],
        ['/status', /"ready":true/],
      ] as const) {
        const { stdout } = await runner.run(['curl', '-sf', '--unix-socket', sock, `http://agent${path}`]);
        assert.match(stdout, want, `${node} ${path}`);
      }
    }
  });
  it('allow web from billing on a named port', async () => {
    await palisade('lab', 'apply', '-f', join(POLICIES, 'allow-web-from-billing.yaml'));
    await agrees('allow from namespace');
  });
  it('egress limited to UDP 53', async () => {
    await palisade('lab', 'apply', '-f', join(POLICIES, 'billing-egress-dns-only.yaml'));
    await agrees('egress');
  });
  it('a relabel moves a pod under the allow policy', async () => {
    const f = join(fx.tmp, 'relabel.yaml');
    writeFileSync(
      f,
      'apiVersion: v1\nkind: Pod\nmetadata: { name: cart, namespace: shop, labels: { app: web } }\nspec: { nodeName: node-1, containers: [{ name: cart, ports: [{ name: http, containerPort: 80 }, { name: dns, containerPort: 53, protocol: UDP }] }] }\n',
    );
    await palisade('lab', 'apply', '-f', f);
    await agrees('relabel');
  });
  it('a pod created after the policies is covered from the start', async () => {
    const f = join(fx.tmp, 'late.yaml');
    writeFileSync(
      f,
      'apiVersion: v1\nkind: Pod\nmetadata: { name: late, namespace: shop, labels: { app: late } }\nspec: { nodeName: node-2, containers: [{ name: late, ports: [{ containerPort: 80 }, { containerPort: 8080 }] }] }\n',
    );
    await palisade('lab', 'apply', '-f', f);
    await agrees('late pod');
    const m = await probe('TCP', 80);
    assert.equal(m['shop/db']!['shop/late'], false, 'default deny covers the new pod');
  });
  it('deleting the policies opens everything again', async () => {
    for (const p of ['billing-egress-dns-only', 'allow-web-from-billing', 'default-deny-shop']) {
      await palisade('lab', 'delete', '-f', join(POLICIES, `${p}.yaml`));
    }
    await agrees('all deleted');
    assert.equal(countFalse(await probe('TCP', 80)), 0);
  });
});
