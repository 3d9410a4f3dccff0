import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeInfo } from '../model/cluster.js';
import { strictComment } from '../policy/names.js';
import { createNullLogger } from '../util/log.js';
import {
  createProblemReporter,
  createSyncLoop,
  type EncryptionWarning,
  strictDropsOf,
} from './encryption.js';

const node = (name: string): NodeInfo => ({ name, ips: [], labels: {} });

describe('encryption: the sync loop', () => {
  it('runs one sync at a time with the newest nodes; a failure is kept and retried', async () => {
    const seen: string[][] = [];
    let fail = 1;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const errors: (string | null)[] = [];
    const loop = createSyncLoop(
      async (nodes) => {
        seen.push(nodes.map((n) => n.name));
        if (seen.length === 1) await gate;
        if (seen.length === 2 && fail-- > 0) throw new Error('API down');
      },
      { log: createNullLogger(), what: 'test', retryMs: 20, after: (e) => errors.push(e) },
    );
    loop.kick([node('a')]);
    loop.kick([node('b')]); // while the first runs
    loop.kick([node('c')]); // replaces b: only the newest waits
    release();
    await loop.idle();
    assert.deepEqual(seen, [['a'], ['c']]);
    assert.equal(loop.lastError, 'API down');
    await new Promise((r) => setTimeout(r, 60));
    await loop.idle();
    assert.deepEqual(seen, [['a'], ['c'], ['c']], 'retried with the nodes it failed on');
    assert.equal(loop.lastError, null);
    assert.deepEqual(errors, [null, 'API down', null]);
    await loop.stop();
    loop.kick([node('d')]);
    await loop.idle();
    assert.equal(seen.length, 3, 'stopped: no more syncs');
  });
});

describe('encryption: problems and drops', () => {
  it('reports the warnings whole when they change, each peer problem on its node', () => {
    const reports: (readonly EncryptionWarning[])[] = [];
    const report = createProblemReporter('node-1', createNullLogger(), (w) => reports.push(w));
    const broken =
      'node node-2: annotation palisade.dev/wireguard: publicKey "x" is not a WireGuard key (base64 of 32 bytes)';
    report([broken], null);
    report([broken], null); // unchanged: nothing new
    report([], 'ipsec: pre-shared key file /etc/palisade/ipsec/psk: ENOENT');
    report([], null);
    assert.deepEqual(reports, [
      [{ node: 'node-2', reason: 'EncryptionPeerBlocked', message: broken }],
      [
        {
          node: 'node-1',
          reason: 'EncryptionNotProgrammed',
          message: 'ipsec: pre-shared key file /etc/palisade/ipsec/psk: ENOENT',
        },
      ],
      [],
    ]);
  });

  it("strict drops by node from the rules' counters", () => {
    const counters = new Map([
      [strictComment('node-2'), 7],
      ['something else', 3],
    ]);
    assert.deepEqual(strictDropsOf(counters, ['node-2', 'node-3']), { 'node-2': 7 });
  });
});
