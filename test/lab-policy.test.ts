// NetworkPolicy in the lab, on real packets: after each change the kernel's reachability matrix (probe) must
// equal what the reference evaluator says for the lab's own cluster state. Two nodes, two namespaces.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { readManifestDir, snapshotFromObjects } from '../src/datastore/dir.js';
import type { Protocol } from '../src/model/k8s.js';
import { evaluateFlow } from '../src/policy/reference.js';
import { createFixture, ensureBuilt, REPO } from './helpers/netns.js';

const run = promisify(execFile);
const fx = createFixture('plp');
const dir = join(fx.tmp, 'lab');
const env: NodeJS.ProcessEnv = { ...process.env, PALISADE_LAB_DIR: dir };
delete env.NODE_EXTRA_CA_CERTS;
const POLICIES = join(REPO, 'examples', 'policies');

async function palisade(...args: string[]): Promise<string> {
  const { stdout } = await run(join(REPO, 'bin', 'palisade'), args, { env, maxBuffer: 1 << 24 });
  return stdout;
}

type Matrix = Record<string, Record<string, boolean>>;

async function probe(protocol: Protocol, port: number): Promise<Matrix> {
  const out = await palisade(
    'lab',
    'probe',
    '--json',
    '--protocol',
    protocol.toLowerCase(),
    '--port',
    String(port),
  );
  return (JSON.parse(out) as { matrix: Matrix }).matrix;
}

/** What NetworkPolicy says, from the same cluster directory the agents read, for ports that are served. */
function expected(protocol: Protocol, port: number): Matrix {
  const state = snapshotFromObjects(readManifestDir(join(dir, 'cluster')), '');
  const out: Matrix = {};
  for (const src of state.pods) {
    const row: Record<string, boolean> = {};
    for (const dst of state.pods) {
      const flow = { srcIp: src.ips[0]!, dstIp: dst.ips[0]!, protocol, dstPort: port };
      // Reachable = policy allows and something listens there (pods serve exactly their declared ports).
      const serves = dst.ports.some((p) => p.containerPort === port && p.protocol === protocol);
      row[`${dst.namespace}/${dst.name}`] = serves && evaluateFlow(state, flow).allowed;
    }
    out[`${src.namespace}/${src.name}`] = row;
  }
  return out;
}

async function agrees(what: string): Promise<void> {
  for (const [protocol, port] of [
    ['TCP', 80],
    ['UDP', 53],
    ['TCP', 8080],
  ] as const) {
    assert.deepEqual(await probe(protocol, port), expected(protocol, port), `${what}: ${protocol}/${port}`);
  }
}

function countFalse(m: Matrix): number {
  return Object.values(m)
    .flatMap((r) => Object.values(r))
    .filter((v) => !v).length;
}

before(async () => {
  ensureBuilt();
  await palisade('lab', 'up', '--nodes', '2', '-f', join(REPO, 'examples', 'demo.yaml'));
});
after(async () => {
  if (existsSync(join(dir, 'lab.json')))
    await palisade('lab', 'down').catch((e: unknown) => console.error(e));
  await fx.cleanup();
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
