// The pod server in-process on loopback: served ports, control socket, SCTP children (faked), shutdown.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControlSocketError } from './pod-server-control.js';
import { dialTcp, dialUdp } from './pod-server-dial.js';
import { udpAnswer } from './pod-server-protocol.js';
import { fakeChild, freePort, type LoopbackPod, startLoopbackPod, tempDir } from './pod-server-testkit.js';
import { controlRequest, podStatus, probeTargets } from './probe.js';

const tmp = tempDir();
after(() => tmp.remove());

/** Writes raw text to a control socket and collects `lines` answer lines. */
function rawExchange(path: string, text: string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let got = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      got += chunk;
      const parts = got.split('\n');
      if (parts.length > lines) {
        socket.destroy();
        resolve(parts.slice(0, lines));
      }
    });
    socket.write(text);
  });
}

describe('pod server on loopback', () => {
  let pod: LoopbackPod;
  let port: number;
  before(async () => {
    port = await freePort();
    pod = await startLoopbackPod({
      id: 'ns/web',
      dir: tmp.dir,
      ports: [
        { name: 'http', port, protocol: 'TCP' },
        { port, protocol: 'UDP' },
        { port: 9000, protocol: 'SCTP' },
      ],
    });
  });
  after(() => pod.server.close());

  it('reports every port, SCTP as unsupported, on a 0600 socket', async () => {
    const status = await podStatus(pod.controlSocket);
    assert.deepStrictEqual(status, {
      id: 'ns/web',
      pid: process.pid,
      ports: [
        { port, protocol: 'TCP', name: 'http', listening: true },
        { port, protocol: 'UDP', listening: true },
        { port: 9000, protocol: 'SCTP', listening: false, error: 'sctp not supported by the kernel' },
      ],
    });
    assert.equal(statSync(pod.controlSocket).mode & 0o777, 0o600);
  });

  it('probes targets and classifies each result', async () => {
    const refusedPort = await freePort();
    const results = await probeTargets(
      pod.controlSocket,
      [
        { key: 'ns/web', ip: '127.0.0.1', port, protocol: 'TCP' },
        { key: 'ns/web-udp', ip: '127.0.0.1', port, protocol: 'UDP' },
        { key: 'ns/other', ip: '127.0.0.1', port, protocol: 'TCP' },
        { key: 'ns/closed', ip: '127.0.0.1', port: refusedPort, protocol: 'TCP' },
        { key: 'ns/closed-udp', ip: '127.0.0.1', port: refusedPort, protocol: 'UDP' },
        { key: 'ns/sctp', ip: '127.0.0.1', port: 9000, protocol: 'SCTP' },
      ],
      500,
    );
    const reasons = Object.fromEntries(Object.entries(results).map(([k, r]) => [k, `${r.ok} ${r.reason}`]));
    assert.deepStrictEqual(reasons, {
      'ns/web': 'true connected',
      'ns/web-udp': 'false wrong-peer:ns/web',
      'ns/other': 'false wrong-peer:ns/web',
      'ns/closed': 'false refused',
      'ns/closed-udp': 'false refused',
      'ns/sctp': 'false sctp not supported by the kernel',
    });
    assert.ok(results['ns/web']!.ms >= 0 && results['ns/web']!.ms < 500);
  });

  it('answers UDP probes', async () => {
    const r = await dialUdp({ key: 'ns/web', ip: '127.0.0.1', port, protocol: 'UDP' }, 500);
    assert.equal(`${r.ok} ${r.reason}`, 'true replied');
  });

  it('serves 500 concurrent TCP connections', async () => {
    const target = { key: 'ns/web', ip: '127.0.0.1', port, protocol: 'TCP' as const };
    const results = await Promise.all(Array.from({ length: 500 }, () => dialTcp(target, 3000)));
    assert.deepStrictEqual(
      results.filter((r) => !r.ok),
      [],
    );
  });

  it('answers pipelined requests in order, errors included', async () => {
    const lines = await rawExchange(pod.controlSocket, 'nonsense\n\n{"op":"status"}\n{"op":"nope"}\n', 3);
    assert.match(JSON.parse(lines[0]!).error, /^request is not JSON/);
    assert.equal(JSON.parse(lines[1]!).id, 'ns/web');
    assert.equal(JSON.parse(lines[2]!).error, 'op: "nope" is not one of status, probe, shutdown');
  });
});

describe('a server with several addresses, probed from a chosen one', () => {
  let host: LoopbackPod;
  let port: number;
  before(async () => {
    port = await freePort('127.0.0.2');
    host = await startLoopbackPod({
      id: 'outside',
      dir: tmp.dir,
      addresses: ['127.0.0.2', '127.0.0.3'],
      ports: [
        { port, protocol: 'TCP' },
        { port, protocol: 'UDP' },
      ],
    });
  });
  after(() => host.server.close());

  it('serves each address (UDP answering from the one asked), not the others; any peer counts', async () => {
    const t = (key: string, ip: string, protocol: 'TCP' | 'UDP') => ({
      key,
      ip,
      port,
      protocol,
      anyPeer: true,
      source: '127.0.0.4',
    });
    const results = await probeTargets(
      host.controlSocket,
      [
        t('tcp-2', '127.0.0.2', 'TCP'),
        t('udp-3', '127.0.0.3', 'UDP'),
        t('tcp-1', '127.0.0.1', 'TCP'),
        t('udp-1', '127.0.0.1', 'UDP'),
        { ...t('not-mine', '127.0.0.2', 'TCP'), source: '192.0.2.1' },
      ],
      500,
    );
    const got = Object.fromEntries(
      Object.entries(results).map(([k, r]) => [k, `${r.ok} ${r.reason} ${r.peer ?? '-'}`]),
    );
    assert.deepStrictEqual(got, {
      'tcp-2': 'true connected outside',
      'udp-3': 'true replied outside',
      'tcp-1': 'false refused -',
      'udp-1': 'false refused -',
      'not-mine': 'false error:EADDRNOTAVAIL -',
    });
  });

  it('sends from the chosen source address, TCP and UDP', async () => {
    const seen: string[] = [];
    const tcp = createServer((s) => {
      seen.push(`tcp ${s.remoteAddress}`);
      s.end('x/y\n');
    });
    const udp = createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      seen.push(`udp ${rinfo.address}`);
      udp.send(udpAnswer('x/y', msg.toString()) ?? '', rinfo.port, rinfo.address);
    });
    const p = await freePort('127.0.0.5');
    await new Promise<void>((r) => tcp.listen(p, '127.0.0.5', r));
    await new Promise<void>((r) => udp.bind(p, '127.0.0.5', r));
    try {
      const base = { key: 'x/y', ip: '127.0.0.5', port: p, source: '127.0.0.6' };
      assert.equal((await dialTcp({ ...base, protocol: 'TCP' }, 500)).reason, 'connected');
      assert.equal((await dialUdp({ ...base, protocol: 'UDP' }, 500)).reason, 'replied');
      assert.deepStrictEqual(seen, ['tcp 127.0.0.6', 'udp 127.0.0.6']);
    } finally {
      tcp.close();
      udp.close();
    }
  });
});

describe('pod server start and stop', () => {
  it('reports a port it cannot bind without failing the others', async () => {
    const port = await freePort();
    const first = await startLoopbackPod({ id: 'ns/a', dir: tmp.dir, ports: [{ port, protocol: 'TCP' }] });
    const udpPort = await freePort();
    const second = await startLoopbackPod({
      id: 'ns/b',
      dir: tmp.dir,
      ports: [
        { port, protocol: 'TCP' },
        { port: udpPort, protocol: 'UDP' },
      ],
    });
    try {
      const ports = await second.server.ready;
      assert.equal(ports[0]!.listening, false);
      assert.match(ports[0]!.error!, /^EADDRINUSE: /);
      assert.equal(ports[1]!.listening, true);
    } finally {
      await first.server.close();
      await second.server.close();
    }
  });

  it('serves SCTP through a child where the kernel has SCTP, and kills it on close', async () => {
    const child = fakeChild();
    const pod = await startLoopbackPod({
      id: 'ns/sctp',
      dir: tmp.dir,
      ports: [{ port: 9000, protocol: 'SCTP' }],
      deps: {
        sctpSupported: true,
        spawnChild: (argv) => {
          assert.deepStrictEqual(argv, [
            'socat',
            'SCTP6-LISTEN:9000,ipv6only=0,fork,reuseaddr',
            'SYSTEM:echo ns/sctp',
          ]);
          return child;
        },
        readSctpEndpoints: () => ' ENDPT SOCK STY SST HBKT LPORT UID INODE LADDRS\nf f 2 10 29 9000 0 1 ::\n',
      },
    });
    assert.deepStrictEqual(await pod.server.ready, [{ port: 9000, protocol: 'SCTP', listening: true }]);
    await pod.server.close();
    assert.equal(child.killed, true);
  });

  it('reports an SCTP child that exits at once', async () => {
    const pod = await startLoopbackPod({
      id: 'ns/sctp2',
      dir: tmp.dir,
      ports: [{ port: 9000, protocol: 'SCTP' }],
      deps: { sctpSupported: true, spawnChild: () => fakeChild('exited 1') },
    });
    assert.deepStrictEqual(await pod.server.ready, [
      { port: 9000, protocol: 'SCTP', listening: false, error: 'socat exited 1' },
    ]);
    await pod.server.close();
  });

  it('answers shutdown before calling onShutdown, and close removes the socket', async () => {
    const pod = await startLoopbackPod({ id: 'ns/bye', dir: tmp.dir, ports: [] });
    assert.deepStrictEqual(await controlRequest(pod.controlSocket, { op: 'shutdown' }, 1000), { ok: true });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(pod.shutdowns.length, 1);
    await pod.server.close();
    assert.equal(existsSync(pod.controlSocket), false);
  });

  it('replaces a stale socket but refuses to delete another kind of file', async () => {
    const first = await startLoopbackPod({ id: 'ns/stale', dir: tmp.dir, ports: [] });
    const again = await startLoopbackPod({ id: 'ns/stale', dir: tmp.dir, ports: [] });
    assert.equal((await podStatus(again.controlSocket)).id, 'ns/stale');
    await again.server.close();
    await first.server.close();

    writeFileSync(join(tmp.dir, 'ns_file.sock'), 'not a socket');
    await assert.rejects(startLoopbackPod({ id: 'ns/file', dir: tmp.dir, ports: [] }), ControlSocketError);
    assert.equal(existsSync(join(tmp.dir, 'ns_file.sock')), true);
  });
});
