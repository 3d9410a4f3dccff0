import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { globalPolicyKey } from '../model/global-network-policy.js';
import { hostEndpointKey } from '../model/host-endpoint.js';
import { seedYaml } from '../model/testdata/seed-003-calico.js';
import { WIREGUARD_ANNOTATION } from '../model/wireguard.js';
import { createNullLogger } from '../util/log.js';
import { annotateNodeInDir, createDirDatastore, readManifestDir, snapshotFromObjects } from './dir.js';

const root = mkdtempSync(join(tmpdir(), 'palisade-dir-ds-'));
after(() => rmSync(root, { recursive: true, force: true }));

function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function until(what: string, check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('dir datastore', () => {
  it('reads manifests, skips a broken file, and sees every replace-by-rename through the watch alone', async () => {
    const dir = join(root, 'a');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(
      join(dir, 'ns.yaml'),
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: a}}\n',
    );
    writeFileSync(
      join(dir, 'sub', 'pod.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {nodeName: n1, containers: [{}]}\nstatus: {podIP: 10.0.0.1}\n',
    );
    writeFileSync(join(dir, 'broken.yaml'), 'kind: Pod\nmetadata: {name: x}\n');
    replace(join(dir, 'REVISION'), '1\n');
    // A poll interval far beyond the test: only the file watch can report changes.
    const ds = createDirDatastore({ dir, log: createNullLogger(), pollMs: 60_000 });
    let changes = 0;
    await ds.start(() => {
      changes += 1;
    });
    try {
      const s = ds.snapshot();
      assert.equal(s.synced, true);
      assert.equal(s.revision, '1');
      assert.deepEqual(
        s.namespaces.map((n) => [n.name, n.labels]),
        [
          ['default', { 'kubernetes.io/metadata.name': 'default' }],
          ['shop', { team: 'a', 'kubernetes.io/metadata.name': 'shop' }],
        ],
      );
      assert.deepEqual(
        s.pods.map((p) => [p.namespace, p.name, p.node, p.ips]),
        [['shop', 'web', 'n1', ['10.0.0.1']]],
      );
      for (const rev of ['2', '3']) {
        replace(join(dir, 'REVISION'), `${rev}\n`);
        await until(`revision ${rev}`, () => ds.snapshot().revision === rev);
      }
      replace(
        join(dir, 'sub', 'np.yaml'),
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}}\n',
      );
      await until('the new policy', () => ds.snapshot().policies.length === 1);
      assert.ok(changes >= 4, `onChange called ${changes} times`);
    } finally {
      await ds.stop();
    }
  });

  it('delivers ClusterNetworkPolicies (with their problems and parts not programmed) and node labels', async () => {
    const dir = join(root, 'cnp');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'node.yaml'),
      'apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {zone: a}}\n' +
        'status: {addresses: [{type: InternalIP, address: 198.18.0.11}]}\n',
    );
    const cnp = (name: string, spec: string) =>
      `apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
    writeFileSync(
      join(dir, 'cnps.yaml'),
      [
        cnp(
          'web',
          '{tier: Baseline, priority: 3, subject: {namespaces: {}}, ' +
            'egress: [{action: Accept, to: [{domainNames: [example.com]}]}]}',
        ),
        cnp('broken', '{tier: Admin, priority: 1, subject: {namespaces: {matchLabels: {"bad key!": x}}}}'),
      ].join('---\n'),
    );
    const ds = createDirDatastore({ dir, log: createNullLogger(), pollMs: 60_000 });
    await ds.start(() => {});
    try {
      const s = ds.snapshot();
      assert.deepEqual(s.nodes, [{ name: 'n1', ips: ['198.18.0.11'], labels: { zone: 'a' } }]);
      assert.deepEqual(
        s.clusterPolicies?.map((p) => [p.name, p.tier, p.problems, p.notProgrammed.length]),
        [
          ['web', 'Baseline', [], 1],
          [
            'broken',
            'Admin',
            ['spec.subject.namespaces.matchLabels: key "bad key!" is not a valid label key'],
            0,
          ],
        ],
      );
    } finally {
      await ds.stop();
    }
  });

  it('delivers GlobalNetworkPolicies and HostEndpoints of all three groups, parsed and sorted by key', async () => {
    const dir = join(root, 'gnp');
    mkdirSync(dir, { recursive: true });
    // Seed 003 as written: projectcalico.org/v3 policies, a crd.projectcalico.org/v1 HostEndpoint.
    writeFileSync(join(dir, 'seed.yaml'), seedYaml('node-a'));
    writeFileSync(
      join(dir, 'own.yaml'),
      'apiVersion: palisade.dev/v1\nkind: GlobalNetworkPolicy\nmetadata: {name: drop-other-ingress}\n' +
        'spec: {order: 5, selector: "has(host-endpoint)", ingress: [{action: Deny, protocol: TCP, destination: {ports: [22]}}]}\n' +
        '---\napiVersion: palisade.dev/v1\nkind: HostEndpoint\nmetadata: {name: node-b, labels: {role: edge}}\n' +
        'spec: {node: node-b, expectedIPs: [198.18.0.12], ports: [{name: ssh, port: 22, protocol: TCP}]}\n' +
        '---\napiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: broken}\nspec: {node: node-b}\n',
    );
    const ds = createDirDatastore({ dir, log: createNullLogger(), pollMs: 60_000 });
    await ds.start(() => {});
    try {
      const s = ds.snapshot();
      assert.deepEqual(
        s.globalPolicies?.map((p) => [globalPolicyKey(p), p.order, p.preDNAT, p.types, p.problems]),
        [
          ['gnp:drop-other-ingress', 5, false, ['Ingress'], []],
          ['gnp:projectcalico.org/allow-cluster-internal-ingress', 10, true, ['Ingress'], []],
          ['gnp:projectcalico.org/allow-outbound-external', 10, false, ['Egress'], []],
          ['gnp:projectcalico.org/drop-other-ingress', 20, true, ['Ingress'], []],
        ],
      );
      assert.deepEqual(s.globalPolicies?.[1]?.ingress[0]?.source.nets, ['10.240.0.0/16', '192.168.0.0/16']);
      assert.deepEqual(
        s.hostEndpoints?.map((h) => [
          hostEndpointKey(h),
          h.node,
          h.interfaceName,
          h.labels,
          h.problems.length,
        ]),
        [
          ['hep:crd.projectcalico.org/node-a', 'node-a', '*', { 'host-endpoint': 'ingress' }, 0],
          ['hep:node-b', 'node-b', undefined, { role: 'edge' }, 0],
          ['hep:projectcalico.org/broken', 'node-b', undefined, {}, 1],
        ],
      );
      assert.deepEqual(s.hostEndpoints?.[1]?.ports, [{ name: 'ssh', port: 22, protocol: 'TCP' }]);
      // A deletion is seen as any other change.
      rmSync(join(dir, 'seed.yaml'));
      await until('the seed gone', () => ds.snapshot().globalPolicies?.length === 1);
      assert.deepEqual(
        ds.snapshot().hostEndpoints?.map((h) => h.name),
        ['node-b', 'broken'],
      );
    } finally {
      await ds.stop();
    }
  });
});

describe('dir datastore: annotating a Node', () => {
  it('sets the annotation in the file that holds the Node, keeping its other documents and comments', () => {
    const dir = join(root, 'annotate');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'cluster.yaml');
    writeFileSync(
      file,
      [
        '# the lab',
        'apiVersion: v1',
        'kind: Namespace',
        'metadata: {name: shop}',
        '---',
        'apiVersion: v1',
        'kind: Node',
        'metadata:',
        '  name: node-2 # the second',
        'status: {addresses: [{type: InternalIP, address: 198.18.0.12}]}',
        '',
      ].join('\n'),
    );
    annotateNodeInDir(dir, 'node-2', WIREGUARD_ANNOTATION, '{"publicKey":"k","port":1}');
    const text = readFileSync(file, 'utf8');
    assert.match(text, /# the lab/);
    assert.match(text, /# the second/);
    const snap = snapshotFromObjects(readManifestDir(dir), '1');
    assert.deepEqual(snap.namespaces.map((n) => n.name).sort(), ['default', 'shop']);
    assert.equal(snap.nodes[0]?.wireguard, '{"publicKey":"k","port":1}');
    annotateNodeInDir(dir, 'node-2', WIREGUARD_ANNOTATION, 'changed');
    assert.equal(snapshotFromObjects(readManifestDir(dir), '2').nodes[0]?.wireguard, 'changed');
  });

  it('a Node no file holds: an error naming it, nothing written', () => {
    const dir = join(root, 'annotate-missing');
    mkdirSync(dir, { recursive: true });
    assert.throws(() => annotateNodeInDir(dir, 'node-9', 'a', 'b'), /no manifest holds Node node-9/);
  });
});
