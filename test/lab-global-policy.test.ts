// GlobalNetworkPolicy and host endpoints in the lab, on real packets (issue 11 §5): order and Pass against
// NetworkPolicy (the kernel's pod matrix must equal the reference evaluator's), Log (its rule counts the
// packets it logged and the next rule decides), applyOnForward (forwarded traffic through a node's host
// endpoint), doNotTrack (allowed, with no conntrack entry), and a host policy closing a node's own port to one
// address while the failsafe port still answers. A denied connection is dropped (timed out), never refused.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLab, type Probe } from './helpers/lab.js';
import { REPO } from './helpers/netns.js';

const PROBES: readonly Probe[] = [
  ['TCP', 80],
  ['UDP', 53],
];

const gnp = (name: string, spec: string) =>
  `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: { name: ${name} }\nspec:\n${spec}`;

/** Shop's pods allow ingress from everyone (a NetworkPolicy, order 1000). */
const NP_OPEN_DB = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: open-db, namespace: shop }
spec: { podSelector: { matchLabels: { app: db } }, ingress: [{}] }
`;

const denyBillingToDb = (order: number) =>
  gnp(
    'deny-billing-to-db',
    `  order: ${order}
  selector: app == 'db'
  ingress:
    - action: Log
      protocol: TCP
      destination: { ports: [80] }
    - action: Deny
      protocol: TCP
      source: { namespaceSelector: team == 'billing' }
      destination: { ports: [80] }
`,
  );

const HOST = `apiVersion: v1
kind: Pod
metadata: { name: host-agent, namespace: default, labels: { app: host-agent } }
spec:
  nodeName: node-2
  hostNetwork: true
  containers: [{ name: main, image: lab/pod-server, ports: [{ containerPort: 8081 }, { containerPort: 22 }, { containerPort: 5353, protocol: UDP }] }]
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: node-2, labels: { host-endpoint: ingress } }
spec: { node: node-2, interfaceName: "*", profiles: [projectcalico-default-allow] }
`;

const HOST_POLICIES = `${gnp(
  'close-8081-to-outside',
  `  order: 10
  selector: has(host-endpoint)
  ingress:
    - action: Deny
      protocol: TCP
      source: { nets: [198.18.0.3/32] }
    - action: Allow
`,
)}---
${gnp(
  'no-forwarded-80-from-outside',
  `  order: 20
  selector: has(host-endpoint)
  applyOnForward: true
  ingress:
    - action: Deny
      protocol: TCP
      source: { nets: [198.18.0.4/32] }
      destination: { ports: [80] }
    - action: Allow
`,
)}---
${gnp(
  'untracked-5353',
  `  order: 1
  selector: has(host-endpoint)
  doNotTrack: true
  applyOnForward: true
  types: [Ingress, Egress]
  ingress: [{ action: Allow, protocol: UDP, destination: { ports: [5353] } }]
  egress: [{ action: Allow, protocol: UDP, source: { ports: [5353] } }]
`,
)}`;

const lab = createLab('plg');

async function nft(
  node: string,
): Promise<{ nftables: Record<string, { comment?: string; expr?: unknown[] }>[] }> {
  return JSON.parse(
    await lab.palisade('lab', 'exec', node, '--', 'nft', '-j', 'list', 'table', 'inet', 'palisade'),
  );
}

/** Packets counted by the rules whose comment starts with `origin`, on a node. */
async function counted(node: string, origin: string): Promise<number> {
  let n = 0;
  for (const o of (await nft(node)).nftables) {
    const rule = o.rule as { comment?: string; expr?: { counter?: { packets: number } }[] } | undefined;
    if (!rule?.comment?.startsWith(origin)) continue;
    for (const e of rule.expr ?? []) n += e.counter?.packets ?? 0;
  }
  return n;
}

describe('GlobalNetworkPolicy and host endpoints on real packets (dir lab)', () => {
  before(async () => {
    await lab.up(2, join(REPO, 'examples', 'demo.yaml'));
  });
  after(async () => {
    await lab.down();
  });

  it('order below 1000: a GNP Deny beats the NetworkPolicy that allows; the Log rule before it counts', async () => {
    await lab.applyText(NP_OPEN_DB);
    await lab.applyText(denyBillingToDb(100));
    await lab.agrees('gnp order 100', PROBES);
    const m = await lab.probe('TCP', 80);
    assert.equal(m['billing/api']!['shop/db'], false);
    assert.equal(m['shop/web']!['shop/db'], true);
    const logged = await counted('node-2', 'gnp:projectcalico.org/deny-billing-to-db:ingress[0]');
    assert.ok(logged > 0, `the Log rule counted ${logged} packets`);
  });

  it('order above 1000: the NetworkPolicy decides first', async () => {
    await lab.applyText(denyBillingToDb(2000));
    await lab.agrees('gnp order 2000', PROBES);
    assert.equal((await lab.probe('TCP', 80))['billing/api']!['shop/db'], true);
  });

  it('a Pass skips a NetworkPolicy that would isolate, on to the (empty) Baseline: allowed', async () => {
    await lab.applyText(NP_OPEN_DB, 'delete');
    await lab.applyText(denyBillingToDb(2000), 'delete');
    await lab.applyText(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: db-only-shop, namespace: shop }
spec: { podSelector: { matchLabels: { app: db } }, ingress: [{ from: [{ podSelector: {} }] }] }
`);
    await lab.agrees('isolated', PROBES);
    assert.equal((await lab.probe('TCP', 80))['billing/api']!['shop/db'], false);
    await lab.applyText(
      gnp(
        'pass-billing',
        `  order: 10\n  selector: app == 'db'\n  ingress: [{ action: Pass, source: { namespaceSelector: team == 'billing' } }]\n`,
      ),
    );
    await lab.agrees('pass', PROBES);
    assert.equal((await lab.probe('TCP', 80))['billing/api']!['shop/db'], true);
  });

  it('host endpoint: a node port closed to one address (dropped, not refused), the failsafe still answers', async () => {
    await lab.applyText(HOST);
    await lab.applyText(HOST_POLICIES);
    const [closed, other, ssh] = await Promise.all([
      lab.probePairs(['outside'], ['node-2:8081']),
      lab.probePairs(['outside@198.18.0.5'], ['node-2:8081']),
      lab.probePairs(['outside'], ['node-2:22']),
    ]);
    assert.equal(closed[0]!.verdict, 'dropped', JSON.stringify(closed));
    assert.equal(other[0]!.verdict, 'connected', JSON.stringify(other));
    assert.equal(ssh[0]!.verdict, 'connected', JSON.stringify(ssh));
  });

  it('applyOnForward: traffic forwarded through the host endpoint to a pod is policed, from one address only', async () => {
    await lab.deleteAllPolicies();
    await lab.applyText(
      gnp(
        'pass-billing',
        `  order: 10\n  selector: app == 'db'\n  ingress: [{ action: Pass, source: { namespaceSelector: team == 'billing' } }]\n`,
      ),
      'delete',
    );
    const [denied, allowed] = await Promise.all([
      lab.probePairs(['outside@198.18.0.4'], ['shop/db']),
      lab.probePairs(['outside@198.18.0.6'], ['shop/db']),
    ]);
    assert.equal(denied[0]!.verdict, 'dropped', JSON.stringify(denied));
    assert.equal(allowed[0]!.verdict, 'connected', JSON.stringify(allowed));
    assert.equal(allowed[0]!.peer, 'shop/db');
  });

  it('doNotTrack: UDP 5353 to the node is answered and leaves no conntrack entry', async () => {
    const r = await lab.probePairs(['outside'], ['node-2:5353'], { protocol: 'UDP' });
    assert.equal(r[0]!.verdict, 'connected', JSON.stringify(r));
    const ct = await lab.palisade(
      'lab',
      'exec',
      'node-2',
      '--',
      'conntrack',
      '-L',
      '-p',
      'udp',
      '--dport',
      '5353',
    );
    assert.equal(ct.trim(), '', 'no conntrack entry for the untracked flow');
    assert.ok((await counted('node-2', 'gnp:projectcalico.org/untracked-5353:ingress[0]')) > 0);
  });
});
