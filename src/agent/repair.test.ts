// (Its two API calls, label and delete with a UID precondition, also run on the real API server in
// test/kube-datastore.test.ts.)
// The repair controller against a fake API server speaking the real API: it labels (or deletes, with a UID
// precondition) the node's selected pods that left no marker, once each, and leaves the rest alone.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CODESEALER_PROFILE } from '../chained/profile.js';
import { toNamespaceInfo, toPodInfo } from '../datastore/kube-convert.js';
import { createPodRepairApi } from '../datastore/kube-pods.js';
import { FakeApiServer, type Json } from '../datastore/testdata/fake-apiserver.js';
import { makeNamespace, makePod } from '../datastore/testdata/kube-testkit.js';
import type { DatastoreSnapshot } from '../datastore/types.js';
import { createNullLogger } from '../util/log.js';
import { MISSING_LABEL, RepairController } from './repair.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-repair-'));
const markers = join(dir, 'markers');
let api: FakeApiServer;

const sidecar = (node: string) => (p: Json & { spec: Json; status: Json }) => {
  (p.metadata as Json).annotations = {
    'sidecar.codesealer.com/status': 'injected',
    'codesealer.com/dport': '8080',
  };
  (p.metadata as Json).ownerReferences = [
    { kind: 'ReplicaSet', name: `${String((p.metadata as Json).name)}-rs`, controller: true },
  ];
  p.spec.nodeName = node;
  p.spec.containers = [{ name: 'app' }, { name: 'codesealer-core' }];
  p.status = { phase: 'Running', podIP: '10.244.1.9', podIPs: [{ ip: '10.244.1.9' }] };
};

/** The datastore's view, from what the fake server holds now (uids and all). */
function snapshot(): DatastoreSnapshot {
  const list = (r: 'pods' | 'namespaces') =>
    JSON.parse(
      JSON.stringify([
        ...(api as unknown as { objects: Map<string, Map<string, Json>> }).objects.get(r)!.values(),
      ]),
    ) as Json[];
  return {
    revision: api.resourceVersion,
    synced: true,
    namespaces: list('namespaces').map(toNamespaceInfo),
    pods: list('pods').map(toPodInfo),
    nodes: [],
    policies: [],
  };
}

function controller(action: 'label' | 'delete') {
  return new RepairController(
    {
      node: 'node-1',
      action,
      selection: { excludeNamespaces: ['kube-system'], profile: CODESEALER_PROFILE },
      markerDir: markers,
      graceMs: 60_000,
      intervalMs: 1000,
      ownerCooldownMs: 600_000,
    },
    {
      api: createPodRepairApi({ kubeConfig: api.writeKubeconfig(dir) }),
      snapshot,
      log: createNullLogger(),
      // An hour after the fake server stamped the pods' creationTimestamp: past the grace period.
      now: () => Date.now() + 3_600_000,
    },
  );
}

before(async () => {
  api = await FakeApiServer.create({ token: 't' });
  api.add('namespaces', makeNamespace('shop', { 'codesealer.com/webhook': 'enabled' }));
  api.add('pods', makePod('shop', 'missed', {}, sidecar('node-1')));
  api.add('pods', makePod('shop', 'redirected', {}, sidecar('node-1')));
  api.add('pods', makePod('shop', 'elsewhere', {}, sidecar('node-2')));
  api.add(
    'pods',
    makePod('shop', 'plain', {}, (p) => sidecar('node-1')({ ...p, metadata: p.metadata } as never)),
  );
  const plain = api as unknown as { objects: Map<string, Map<string, Json>> };
  const pl = plain.objects.get('pods')!.get('shop/plain')!;
  (pl.metadata as Json).annotations = {};
  mkdirSync(markers);
  const redirected = snapshot().pods.find((p) => p.name === 'redirected')!;
  writeFileSync(join(markers, redirected.workload!.uid!), '{}\n');
});

after(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

const labelOf = (name: string) =>
  ((snapshot().pods.find((p) => p.name === name)?.labels ?? {}) as Record<string, string>)[MISSING_LABEL];

describe('repair controller', () => {
  it('labels the one pod that should have been redirected and was not, once', async () => {
    const c = controller('label');
    assert.equal(await c.tick(), 1);
    assert.equal(labelOf('missed'), 'true');
    for (const other of ['redirected', 'elsewhere', 'plain']) assert.equal(labelOf(other), undefined, other);
    assert.equal(await c.tick(), 0, 'never twice');
    assert.deepEqual(
      api.podWrites.map((w) => `${w.verb} ${w.key}`),
      ['patch shop/missed'],
    );
  });
  it('deletes it with a UID precondition, so a replacement of the same name is safe', async () => {
    const c = controller('delete');
    assert.equal(await c.tick(), 1);
    assert.equal(
      snapshot().pods.some((p) => p.name === 'missed'),
      false,
    );
    const del = api.podWrites.find((w) => w.verb === 'delete')!;
    assert.deepEqual(Object.keys((del.body as { preconditions: Json }).preconditions), ['uid']);
    await assert.rejects(
      createPodRepairApi({ kubeConfig: api.writeKubeconfig(dir) }).remove('shop', 'redirected', 'stale-uid'),
      /409|Precondition/,
    );
    assert.ok(
      snapshot().pods.some((p) => p.name === 'redirected'),
      'a pod with another UID is not deleted',
    );
  });
});
