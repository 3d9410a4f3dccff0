// Where chained mode gets pod facts: the agent's socket, else the API server, else the SPEC's try-again error
// naming both failures. The fake API server here is for what a real one cannot be made to do (fail on demand,
// hold a pod the agent lacks in step with a stand-in agent); the fallback itself runs on the real API server
// in test/kube-datastore.test.ts and test/kube-lab.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveStandInAgent } from '../agent/testdata/stand-in-agent.js';
import { FakeApiServer } from '../datastore/testdata/fake-apiserver.js';
import { makeNamespace, makePod } from '../datastore/testdata/kube-testkit.js';
import { createNullLogger } from '../util/log.js';
import { CniCode, CniError } from './errors.js';
import { podFacts } from './pod-facts.js';
import { parseRedirectConf } from './redirect-config.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-facts-'));
const log = createNullLogger();
let api: FakeApiServer;
let agent: Server;
const agentSocket = join(dir, 'agent.sock');

function conf(extra: Record<string, unknown>) {
  return parseRedirectConf(
    {
      cniVersion: '1.0.0',
      name: 'n',
      type: 'palisade-cni',
      mode: 'redirect',
      agentTimeoutMs: 1000,
      ...extra,
    },
    'DEL',
  );
}

before(async () => {
  api = await FakeApiServer.create({ token: 'tok' });
  api.add('namespaces', makeNamespace('shop', { 'codesealer.com/webhook': 'enabled' }));
  api.add(
    'pods',
    makePod('shop', 'web', { app: 'web' }, (p) => {
      (p as unknown as { metadata: Record<string, unknown> }).metadata.annotations = {
        'sidecar.codesealer.com/status': 'injected',
      };
      p.spec.containers = [{ name: 'web', ports: [{ containerPort: 8080 }] }, { name: 'codesealer-core' }];
    }),
  );
  agent = await serveStandInAgent(agentSocket, {
    facts: async (namespace, name) =>
      name === 'known'
        ? {
            pod: {
              namespace,
              name,
              labels: {},
              annotations: { a: 'b' },
              containers: [],
              initContainers: [],
            },
            namespace: { name: namespace, labels: { x: 'y' } },
            revision: '1',
          }
        : { pod: null, namespace: null, revision: '1' },
  });
});
after(async () => {
  agent.close();
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('podFacts', () => {
  it('asks the agent first', async () => {
    const f = await podFacts(conf({ agentSocket }), 'shop', 'known', log);
    assert.equal(f.source, 'agent');
    assert.deepEqual(f.pod.annotations, { a: 'b' });
    assert.deepEqual(f.namespace?.labels, { x: 'y' });
  });
  it('falls back to the API too when the agent does not know the pod', async () => {
    const kubeconfig = api.writeKubeconfig(dir);
    const f = await podFacts(conf({ agentSocket, kubeconfig }), 'shop', 'web', log);
    assert.equal(f.source, 'api');
  });
  it('without a kubeconfig: try again later (11), saying why', async () => {
    await assert.rejects(
      podFacts(conf({ agentSocket: join(dir, 'gone.sock') }), 'shop', 'web', log),
      (err: unknown) =>
        err instanceof CniError &&
        err.code === CniCode.TryAgainLater &&
        /gone\.sock.*no kubeconfig is configured/.test(err.message),
    );
  });
  it('with the API server failing too: 11, naming both failures', async () => {
    const kubeconfig = api.writeKubeconfig(dir);
    await assert.rejects(
      podFacts(conf({ agentSocket: join(dir, 'gone.sock'), kubeconfig }), 'shop', 'ghost', log),
      (err: unknown) =>
        err instanceof CniError &&
        err.code === CniCode.TryAgainLater &&
        /gone\.sock.*no pod shop\/ghost/.test(err.message),
    );
  });
});
