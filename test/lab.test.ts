// The lab end to end through the CLI a user runs: 2 nodes, 6 pods in 2 namespaces, every pair reachable over
// TCP and UDP; apply/delete change it; `lab down` leaves no netns, veth, process, allocation or file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { labPrefix } from '../src/lab/plan.js';
import { runsMarker } from '../src/lab/processes.js';
import type { LabState } from '../src/lab/state.js';
import { createFixture, ensureBuilt, listNetns, REPO } from './helpers/netns.js';

const run = promisify(execFile);
const fx = createFixture('plt');
const dir = join(fx.tmp, 'lab');
const env: NodeJS.ProcessEnv = { ...process.env, PALISADE_LAB_DIR: dir };
delete env.NODE_EXTRA_CA_CERTS;

async function palisade(...args: string[]): Promise<string> {
  const { stdout } = await run(join(REPO, 'bin', 'palisade'), args, { env, maxBuffer: 1 << 24 });
  return stdout;
}

type Status = {
  nodes: { name: string; underlayIP: string; podCIDR: string }[];
  pods: { namespace: string; name: string; node: string; ip: string; labels: Record<string, string> }[];
};

async function status(): Promise<Status> {
  return JSON.parse(await palisade('lab', 'status', '--json')) as Status;
}

async function probe(protocol: string, port: number) {
  return JSON.parse(
    await palisade('lab', 'probe', '--json', '--protocol', protocol, '--port', String(port)),
  ) as {
    port: number;
    protocol: string;
    matrix: Record<string, Record<string, boolean>>;
  };
}

function allTrue(matrix: Record<string, Record<string, boolean>>): boolean {
  return Object.values(matrix).every((row) => Object.values(row).every(Boolean));
}

let serverPids: number[] = [];

before(() => ensureBuilt());
after(async () => {
  if (existsSync(join(dir, 'lab.json')))
    await palisade('lab', 'down').catch((e: unknown) => console.error(e));
  await fx.cleanup();
});

describe('palisade lab', () => {
  it('up: 2 nodes and 6 pods in 2 namespaces from the demo manifests', async () => {
    await palisade('lab', 'up', '--nodes', '2', '-f', join(REPO, 'examples', 'demo.yaml'));
    const s = await status();
    assert.deepEqual(s.nodes, [
      { name: 'node-1', underlayIP: '198.18.0.11', podCIDR: '10.244.0.0/24' },
      { name: 'node-2', underlayIP: '198.18.0.12', podCIDR: '10.244.1.0/24' },
    ]);
    assert.equal(s.pods.length, 6);
    for (const p of s.pods) {
      const cidr = s.nodes.find((n) => n.name === p.node)!.podCIDR;
      assert.ok(p.ip.startsWith(cidr.split('.').slice(0, 3).join('.')), `${p.name} ${p.ip} in ${cidr}`);
    }
    assert.deepEqual(s.pods.find((p) => p.name === 'web')?.labels, { app: 'web', tier: 'front' });
    const state = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState;
    serverPids = state.pods.map((p) => p.serverPid);
    // Each node looks like a real node to the plugin.
    assert.ok(existsSync(join(dir, 'nodes/node-1/etc/cni/net.d/10-palisade.conflist')));
    assert.ok(existsSync(join(dir, 'nodes/node-1/opt/cni/bin/palisade-cni')));
  });

  it('probe: every pod reaches every pod over TCP and UDP, across both nodes', async () => {
    const tcp = await probe('tcp', 80);
    assert.equal(tcp.port, 80);
    assert.equal(tcp.protocol, 'tcp');
    assert.equal(Object.keys(tcp.matrix).length, 6);
    assert.ok(allTrue(tcp.matrix), JSON.stringify(tcp.matrix));
    const udp = await probe('udp', 53);
    assert.ok(allTrue(udp.matrix), JSON.stringify(udp.matrix));
    const closed = await probe('tcp', 81); // nobody serves 81: real connections, so all false
    assert.ok(Object.values(closed.matrix).every((row) => Object.values(row).every((v) => !v)));
    const table = await palisade('lab', 'probe');
    assert.match(table, /shop\/web/);
  });

  it('apply changes labels in place, adds pods; delete removes them', async () => {
    const before = await status();
    const extra = join(fx.tmp, 'extra.yaml');
    writeFileSync(
      extra,
      `apiVersion: v1
kind: Pod
metadata: { name: web, namespace: shop, labels: { app: web, tier: edge } }
spec: { nodeName: node-1, containers: [{ name: web, ports: [{ name: http, containerPort: 80 }, { name: dns, containerPort: 53, protocol: UDP }] }] }
---
apiVersion: v1
kind: Pod
metadata: { name: extra, namespace: billing }
spec: { containers: [{ name: x, ports: [{ containerPort: 80 }] }] }
`,
    );
    await palisade('lab', 'apply', '-f', extra);
    const s = await status();
    const web = s.pods.find((p) => p.name === 'web')!;
    assert.equal(web.labels.tier, 'edge');
    assert.equal(web.ip, before.pods.find((p) => p.name === 'web')!.ip, 'a relabel keeps the pod');
    assert.equal(s.pods.length, 7);
    const tcp = await probe('tcp', 80);
    assert.equal(tcp.matrix['billing/extra']!['shop/web'], true);
    assert.equal(tcp.matrix['shop/db']!['billing/extra'], true);
    await palisade('lab', 'delete', '-f', extra);
    const after = await status();
    assert.equal(after.pods.length, 5);
    assert.equal(
      after.pods.find((p) => p.name === 'web'),
      undefined,
    );
  });

  it('rejects bad manifests naming the field, and changes nothing', async () => {
    const bad = join(fx.tmp, 'bad.yaml');
    writeFileSync(
      bad,
      'apiVersion: v1\nkind: Pod\nmetadata: { name: y, namespace: nope }\nspec: { containers: [{ ports: [{ containerPort: 0 }] }] }\n',
    );
    await assert.rejects(
      palisade('lab', 'apply', '-f', bad),
      /containerPort: 0 must be an integer from 1 to 65535/,
    );
    writeFileSync(
      bad,
      'apiVersion: v1\nkind: Pod\nmetadata: { name: y, namespace: nope }\nspec: { containers: [{}] }\n',
    );
    await assert.rejects(palisade('lab', 'apply', '-f', bad), /namespace "nope" does not exist/);
    assert.equal((await status()).pods.length, 5);
  });

  it('a second lab in another directory coexists with the first and goes down alone', async () => {
    const dir2 = join(fx.tmp, 'lab2');
    const env2 = { ...env, PALISADE_LAB_DIR: dir2 };
    const pod = join(fx.tmp, 'one.yaml');
    writeFileSync(
      pod,
      'apiVersion: v1\nkind: Pod\nmetadata: { name: solo }\nspec: { containers: [{ ports: [{ containerPort: 80 }] }] }\n',
    );
    const lab2 = (...args: string[]) => run(join(REPO, 'bin', 'palisade'), args, { env: env2 });
    try {
      await lab2('lab', 'up', '--nodes', '1', '-f', pod);
      assert.notEqual(labPrefix(dir2), labPrefix(dir));
      const solo = JSON.parse((await lab2('lab', 'probe', '--json')).stdout) as {
        matrix: Record<string, Record<string, boolean>>;
      };
      assert.deepEqual(solo.matrix, { 'default/solo': { 'default/solo': true } });
      assert.equal((await status()).pods.length, 5, 'the first lab is untouched');
    } finally {
      await lab2('lab', 'down');
    }
    assert.deepEqual(
      listNetns().filter((n) => n.startsWith(`${labPrefix(dir2)}-`)),
      [],
    );
    assert.ok(allTrue((await probe('tcp', 80)).matrix), 'the first lab still works');
  });

  it('down removes every namespace, process, allocation and file', async () => {
    const prefix = labPrefix(dir);
    assert.ok(listNetns().some((n) => n.startsWith(`${prefix}-`)));
    await palisade('lab', 'down');
    assert.deepEqual(
      listNetns().filter((n) => n.startsWith(`${prefix}-`)),
      [],
    );
    assert.equal(serverPids.length, 6);
    for (const pid of serverPids) assert.equal(runsMarker(pid, dir), false, `pod server ${pid} still runs`);
    assert.equal(existsSync(dir), false, 'lab directory removed');
  });
});
