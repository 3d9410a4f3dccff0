// The reconciler against a fake kernel: syncs, coalescing, and drift repair never racing a sync.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatastoreSnapshot } from '../datastore/types.js';
import type { Table } from '../ir/ir.js';
import { demoCluster } from '../policy/testdata/builders.js';
import { SCENARIOS } from '../policy/testdata/scenarios.js';
import { createNullLogger } from '../util/log.js';
import { Reconciler, type TableApplier } from './reconciler.js';

function snapshot(scenario: string, revision: string): DatastoreSnapshot {
  return { ...demoCluster(SCENARIOS[scenario]), revision, synced: true };
}

/** A kernel that takes its time: updates commit after `updateMs`, listings read the kernel after `listMs`. */
function slowKernel(opts: { updateMs: number; listMs: number }) {
  const k = { table: undefined as Table | undefined, replaces: 0 };
  const applier: TableApplier = {
    async replace(t) {
      k.replaces += 1;
      k.table = t;
    },
    async update(_prev, next) {
      await sleep(opts.updateMs);
      k.table = next;
      return { mode: 'incremental' };
    },
    async matches(t) {
      await sleep(opts.listMs);
      return k.table === t;
    },
  };
  return { k, applier };
}

describe('Reconciler', () => {
  it("kick({ until: 'committed' }) resolves at the commit; a plain kick waits for revocation too", async () => {
    const { applier } = slowKernel({ updateMs: 0, listMs: 0 });
    let release: () => void = () => undefined;
    const revoking = new Promise<void>((r) => {
      release = r;
    });
    let snap = snapshot('no-policies', '1');
    const r = new Reconciler({
      node: 'node-1',
      snapshot: () => snap,
      endpoints: async () => [],
      applier,
      log: createNullLogger(),
      onTableChanged: () => revoking,
    });
    const first = r.kick({ until: 'committed' });
    await first; // the first table commits; its revocation is still held
    snap = snapshot('default-deny-shop', '2');
    let plainDone = false;
    const plain = r.kick().then(() => {
      plainDone = true;
    });
    await sleep(20);
    assert.equal(plainDone, false, 'a plain kick waits for the revocation');
    release();
    await plain;
    assert.equal(r.revision, '2');
  });

  it('a drift check during a sync never puts the older table back', async () => {
    const { k, applier } = slowKernel({ updateMs: 30, listMs: 40 });
    let snap = snapshot('no-policies', '1');
    const r = new Reconciler({
      node: 'node-1',
      snapshot: () => snap,
      endpoints: async () => [],
      applier,
      log: createNullLogger(),
    });
    await r.kick();
    snap = snapshot('default-deny-shop', '2');
    const synced = r.kick(); // the update commits 30 ms from now
    await sleep(5);
    const repaired = r.resync(); // would read the kernel 40 ms from now, after the update committed
    await Promise.all([synced, repaired]);
    assert.equal(r.revision, '2');
    assert.equal(await repaired, false, 'nothing drifted: the kernel holds what was programmed');
    assert.equal(k.replaces, 1, 'only the first sync replaced the table');
    assert.ok(
      k.table?.chains.some((c) => c.comment === 'np:shop/default-deny ingress'),
      'the newer table stays',
    );
    r.stop();
  });

  it('coalesces a burst of kicks into few syncs and programs the latest snapshot', async () => {
    const { k, applier } = slowKernel({ updateMs: 10, listMs: 0 });
    let snap = snapshot('no-policies', '1');
    let syncs = 0;
    const r = new Reconciler({
      node: 'node-1',
      snapshot: () => snap,
      endpoints: async () => [],
      applier,
      log: createNullLogger(),
      onSynced: () => {
        syncs += 1;
      },
    });
    await r.kick();
    const kicks: Promise<void>[] = [];
    for (let i = 2; i <= 20; i++) {
      snap = snapshot(i % 2 ? 'no-policies' : 'mixed', String(i));
      kicks.push(r.kick());
    }
    await Promise.all(kicks);
    assert.equal(r.revision, '20');
    assert.ok(syncs <= 4, `${syncs} syncs for 20 kicks`);
    assert.ok(k.table?.chains.some((c) => c.comment?.startsWith('np:shop/allow-web-from-billing')));
    r.stop();
  });

  it('programs nothing until the datastore has listed everything', async () => {
    const { k, applier } = slowKernel({ updateMs: 0, listMs: 0 });
    let snap: DatastoreSnapshot = { ...snapshot('no-policies', '0'), synced: false };
    const r = new Reconciler({
      node: 'node-1',
      snapshot: () => snap,
      endpoints: async () => [],
      applier,
      log: createNullLogger(),
    });
    void r.kick();
    await sleep(10);
    assert.equal(k.table, undefined);
    assert.equal(r.ready, false);
    snap = snapshot('no-policies', '1');
    await r.kick();
    assert.equal(r.ready, true);
    r.stop();
  });
});
