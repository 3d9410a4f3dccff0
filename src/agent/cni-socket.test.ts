// The agent's CNI socket: request parsing, and one round trip per op through a real unix socket.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { askAgent } from '../cni/agent-client.js';
import { createNullLogger } from '../util/log.js';
import { type HandoffHandlers, parseHandoff, serveHandoff } from './cni-socket.js';

describe('parseHandoff', () => {
  it('reads facts requests and names what is missing', () => {
    assert.deepEqual(parseHandoff('{"op":"facts","namespace":"shop","name":"web"}'), {
      op: 'facts',
      namespace: 'shop',
      name: 'web',
    });
    assert.equal(parseHandoff('{"op":"facts","namespace":"shop"}'), 'namespace and name: required strings');
    assert.match(
      String(parseHandoff('{"op":"nope","containerID":"c","ifname":"eth0"}')),
      /add, del, status, facts or cni/,
    );
  });
});

describe('the socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-sock-'));
  const path = join(dir, 'agent.sock');
  let server: Server;
  const asked: string[] = [];
  const handlers: HandoffHandlers = {
    add: async () => '7',
    del: async () => {},
    status: () => ({ ready: true, revision: '7' }),
    facts: async (namespace, name) => {
      asked.push(`${namespace}/${name}`);
      return name === 'web'
        ? {
            pod: {
              namespace,
              name,
              labels: { app: 'web' },
              annotations: { 'codesealer.com/dport': '8080' },
              containers: [{ name: 'codesealer-core', ports: [] }],
              initContainers: [],
            },
            namespace: { name: namespace, labels: { 'codesealer.com/webhook': 'enabled' } },
            revision: '7',
          }
        : { pod: null, namespace: null, revision: '7' };
    },
  };
  before(async () => {
    server = await serveHandoff(path, handlers, createNullLogger());
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  it('is for root only', () => {
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });
  it('answers facts of a known pod, and null for an unknown one', async () => {
    const known = await askAgent(path, { op: 'facts', namespace: 'shop', name: 'web' }, 2000);
    assert.equal(
      (known.pod as { annotations: Record<string, string> }).annotations['codesealer.com/dport'],
      '8080',
    );
    assert.deepEqual((known.namespace as { labels: unknown }).labels, {
      'codesealer.com/webhook': 'enabled',
    });
    const unknown = await askAgent(path, { op: 'facts', namespace: 'shop', name: 'ghost' }, 2000);
    assert.equal(unknown.pod, null);
    assert.deepEqual(asked, ['shop/web', 'shop/ghost']);
  });
  it('refuses a malformed request with the reason', async () => {
    await assert.rejects(askAgent(path, { op: 'facts', namespace: 'shop' }, 2000), /namespace and name/);
  });
});
