// The probe client against in-process pod servers on two loopback addresses (127.0.0.1 and 127.0.0.2).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, type LoopbackPod, startLoopbackPod, tempDir } from './pod-server-testkit.js';
import {
  controlRequest,
  PodServerError,
  type ProbePod,
  probeMatrix,
  shutdownPodServer,
  waitForPodServer,
} from './probe.js';

const tmp = tempDir();
after(() => tmp.remove());

describe('probeMatrix', () => {
  const pods: LoopbackPod[] = [];
  let probePods: ProbePod[];
  let port: number;
  before(async () => {
    port = await freePort();
    const ports = [
      { port, protocol: 'TCP' as const },
      { port, protocol: 'UDP' as const },
    ];
    pods.push(await startLoopbackPod({ id: 'ns/b', dir: tmp.dir, ports, host: '127.0.0.2' }));
    pods.push(await startLoopbackPod({ id: 'ns/a', dir: tmp.dir, ports, host: '127.0.0.1' }));
    probePods = [
      { key: 'ns/b', ip: '127.0.0.2', controlSocket: pods[0]!.controlSocket },
      { key: 'ns/a', ip: '127.0.0.1', controlSocket: pods[1]!.controlSocket },
    ];
  });
  after(() => Promise.all(pods.map((p) => p.server.close())));

  for (const protocol of ['TCP', 'UDP'] as const) {
    it(`measures every pair over ${protocol}, keys sorted`, async () => {
      const { matrix, details } = await probeMatrix(probePods, { port, protocol, timeoutMs: 500 });
      assert.deepStrictEqual(matrix, {
        'ns/a': { 'ns/a': true, 'ns/b': true },
        'ns/b': { 'ns/a': true, 'ns/b': true },
      });
      assert.deepStrictEqual(Object.keys(details), ['ns/a', 'ns/b']);
      assert.equal(details['ns/b']!['ns/a']!.reason, protocol === 'TCP' ? 'connected' : 'replied');
    });
  }

  it('marks a pod whose address answers with another id', async () => {
    const swapped = [
      { ...probePods[0]!, ip: '127.0.0.1' },
      { ...probePods[1]!, ip: '127.0.0.2' },
    ];
    const { matrix, details } = await probeMatrix(swapped, { port, protocol: 'TCP', timeoutMs: 500 });
    assert.deepStrictEqual(matrix, {
      'ns/a': { 'ns/a': false, 'ns/b': false },
      'ns/b': { 'ns/a': false, 'ns/b': false },
    });
    assert.equal(details['ns/a']!['ns/b']!.reason, 'wrong-peer:ns/a');
  });

  it('fails, rather than reporting ✗, when a pod server is missing', async () => {
    const broken = [
      ...probePods,
      { key: 'ns/c', ip: '127.0.0.3', controlSocket: join(tmp.dir, 'none.sock') },
    ];
    await assert.rejects(probeMatrix(broken, { port, protocol: 'TCP' }), (err: unknown) => {
      assert.ok(err instanceof PodServerError);
      assert.match(err.message, /none\.sock: .*ENOENT/);
      return true;
    });
  });

  it('rejects duplicate pod keys', async () => {
    await assert.rejects(
      probeMatrix([probePods[0]!, probePods[0]!], { port, protocol: 'TCP' }),
      /pod key ns\/b appears twice/,
    );
  });

  it('turns an error answer into a PodServerError', async () => {
    await assert.rejects(
      controlRequest(pods[0]!.controlSocket, { op: 'dance' }, 1000),
      /pod server at .*: op: "dance" is not one of status, probe, shutdown/,
    );
  });
});

describe('waitForPodServer and shutdownPodServer', () => {
  it('waits for a server that starts later', async () => {
    const start = setTimeout(() => {
      void startLoopbackPod({ id: 'ns/late', dir: tmp.dir, ports: [] }).then((p) => late.push(p));
    }, 100);
    const late: LoopbackPod[] = [];
    try {
      const status = await waitForPodServer(join(tmp.dir, 'ns_late.sock'), 3000);
      assert.equal(status.id, 'ns/late');
      await shutdownPodServer(join(tmp.dir, 'ns_late.sock'));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(late[0]!.shutdowns.length, 1);
    } finally {
      clearTimeout(start);
      await Promise.all(late.map((p) => p.server.close()));
    }
  });

  it('gives up after the timeout, naming the socket and the last error', async () => {
    const t0 = performance.now();
    await assert.rejects(waitForPodServer(join(tmp.dir, 'never.sock'), 150), (err: unknown) => {
      assert.ok(err instanceof PodServerError);
      assert.match(err.message, /never\.sock: not ready after 150 ms \(.*ENOENT/);
      return true;
    });
    assert.ok(performance.now() - t0 < 1000);
  });
});
