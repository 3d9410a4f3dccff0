import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProbeResult } from './pod-server-protocol.js';
import {
  type EndpointSpec,
  type LabView,
  ProbeSpecError,
  pairResult,
  pairTarget,
  parseEndpoint,
  renderPairsTable,
  resolveDestination,
  resolveSource,
  verdictOf,
} from './probe-pairs.js';

const VIEW: LabView = {
  pods: [
    { key: 'shop/web', ip: '10.244.0.5', controlSocket: '/lab/pods/web.sock' },
    { key: 'default/host-agent', ip: '198.18.0.12', controlSocket: '/lab/pods/ha.sock' },
  ],
  nodes: [
    { name: 'node-1', ip: '198.18.0.11' },
    { name: 'node-2', ip: '198.18.0.12' },
  ],
  hostServers: {
    'node-1': '/lab/hosts/node-1.sock',
    'node-2': '/lab/hosts/node-2.sock',
    outside: '/lab/hosts/outside.sock',
  },
  outsideIps: ['198.18.0.3', '198.18.0.4', '203.0.113.10'],
};

describe('parseEndpoint', () => {
  const cases: { text: string; flag: '--from' | '--to'; want: Omit<EndpointSpec, 'text'> }[] = [
    { text: 'shop/web', flag: '--from', want: { endpoint: { kind: 'pod', key: 'shop/web' } } },
    { text: 'node-1', flag: '--from', want: { endpoint: { kind: 'node', name: 'node-1' } } },
    { text: 'outside', flag: '--from', want: { endpoint: { kind: 'outside' } } },
    {
      text: 'outside@203.0.113.10',
      flag: '--from',
      want: { endpoint: { kind: 'outside', address: '203.0.113.10' } },
    },
    { text: 'shop/web:8080', flag: '--to', want: { endpoint: { kind: 'pod', key: 'shop/web' }, port: 8080 } },
    { text: 'node-1:30080', flag: '--to', want: { endpoint: { kind: 'node', name: 'node-1' }, port: 30080 } },
    { text: 'outside:53', flag: '--to', want: { endpoint: { kind: 'outside' }, port: 53 } },
    {
      text: 'outside@198.18.0.4:443',
      flag: '--to',
      want: { endpoint: { kind: 'outside', address: '198.18.0.4' }, port: 443 },
    },
    { text: '10.96.0.1', flag: '--to', want: { endpoint: { kind: 'address', ip: '10.96.0.1' } } },
    {
      text: '10.96.0.1:443',
      flag: '--to',
      want: { endpoint: { kind: 'address', ip: '10.96.0.1' }, port: 443 },
    },
    { text: 'fd00::1', flag: '--to', want: { endpoint: { kind: 'address', ip: 'fd00::1' } } },
    { text: '[fd00::1]:80', flag: '--to', want: { endpoint: { kind: 'address', ip: 'fd00::1' }, port: 80 } },
  ];
  for (const c of cases) {
    it(`${c.flag} ${c.text}`, () =>
      assert.deepStrictEqual(parseEndpoint(c.text, c.flag), { text: c.text, ...c.want }));
  }

  const bad: { text: string; flag: '--from' | '--to'; want: string }[] = [
    { text: '198.18.0.3', flag: '--from', want: '--from: "198.18.0.3": name a pod, a node or outside' },
    { text: 'node-1:22', flag: '--from', want: '--from: "node-1:22" is not NAMESPACE/POD' },
    { text: 'outside@nowhere', flag: '--to', want: '--to: "outside@nowhere": "nowhere" is not an address' },
    { text: 'node-1:70000', flag: '--to', want: '--to: "node-1:70000": port 70000 is not 1-65535' },
    { text: 'a/b/c', flag: '--to', want: '--to: "a/b/c" is not NAMESPACE/POD' },
    { text: 'Node_1', flag: '--to', want: '--to: "Node_1" is not NAMESPACE/POD' },
  ];
  for (const c of bad) {
    it(`rejects ${c.flag} ${c.text}`, () =>
      assert.throws(
        () => parseEndpoint(c.text, c.flag),
        (err: unknown) => err instanceof ProbeSpecError && err.message.startsWith(c.want),
      ));
  }
});

describe('resolving against the lab', () => {
  const from = (t: string) => resolveSource(parseEndpoint(t, '--from'), VIEW);
  const to = (t: string) => resolveDestination(parseEndpoint(t, '--to'), VIEW, 80);

  it("sources are their servers' control sockets, with the chosen outside address", () => {
    assert.deepStrictEqual(from('shop/web'), { text: 'shop/web', controlSocket: '/lab/pods/web.sock' });
    assert.deepStrictEqual(from('node-2'), { text: 'node-2', controlSocket: '/lab/hosts/node-2.sock' });
    assert.deepStrictEqual(from('outside'), { text: 'outside', controlSocket: '/lab/hosts/outside.sock' });
    assert.deepStrictEqual(from('outside@203.0.113.10'), {
      text: 'outside@203.0.113.10',
      controlSocket: '/lab/hosts/outside.sock',
      address: '203.0.113.10',
    });
  });

  it('destinations are addresses and ports (--port unless :PORT)', () => {
    assert.deepStrictEqual(
      [
        'shop/web',
        'default/host-agent:8081',
        'node-1:30080',
        'outside',
        'outside@203.0.113.10:53',
        '10.96.0.1',
      ].map(to),
      [
        { text: 'shop/web', ip: '10.244.0.5', port: 80 },
        { text: 'default/host-agent:8081', ip: '198.18.0.12', port: 8081 },
        { text: 'node-1:30080', ip: '198.18.0.11', port: 30080 },
        { text: 'outside', ip: '198.18.0.3', port: 80 },
        { text: 'outside@203.0.113.10:53', ip: '203.0.113.10', port: 53 },
        { text: '10.96.0.1', ip: '10.96.0.1', port: 80 },
      ],
    );
  });

  const bad: { what: string; run: () => unknown; want: string }[] = [
    {
      what: 'an unknown pod',
      run: () => from('shop/cart'),
      want: '--from: no pod shop/cart runs in the lab',
    },
    {
      what: 'an unknown node',
      run: () => to('node-9'),
      want: '--to: "node-9" is not a node (node-1, node-2)',
    },
    {
      what: 'an address the outside host does not hold',
      run: () => from('outside@198.18.0.9'),
      want: '--from: "outside@198.18.0.9": 198.18.0.9 is not an outside address (198.18.0.3, 198.18.0.4, 203.0.113.10)',
    },
    {
      what: 'a lab without host servers',
      run: () => resolveSource(parseEndpoint('node-1', '--from'), { ...VIEW, hostServers: {} }),
      want: '--from: "node-1": node-1 has no probe server',
    },
    {
      what: 'a lab without an outside host',
      run: () => resolveDestination(parseEndpoint('outside', '--to'), { ...VIEW, outsideIps: [] }, 80),
      want: '--to: "outside": this lab has no outside host',
    },
  ];
  for (const c of bad) {
    it(`rejects ${c.what}`, () =>
      assert.throws(
        c.run,
        (err: unknown) => err instanceof ProbeSpecError && err.message.startsWith(c.want),
      ));
  }
});

describe('verdicts', () => {
  const cases: { result: Omit<ProbeResult, 'ms'>; want: string }[] = [
    { result: { ok: true, reason: 'connected', peer: 'shop/web' }, want: 'connected' },
    { result: { ok: true, reason: 'replied', peer: 'outside' }, want: 'connected' },
    { result: { ok: false, reason: 'no-answer' }, want: 'connected' },
    { result: { ok: false, reason: 'refused' }, want: 'refused' },
    { result: { ok: false, reason: 'reset' }, want: 'refused' },
    { result: { ok: false, reason: 'unreachable' }, want: 'refused' },
    { result: { ok: false, reason: 'timeout' }, want: 'dropped' },
    { result: { ok: false, reason: 'blocked-locally' }, want: 'dropped' },
    { result: { ok: false, reason: 'sctp not supported by the kernel' }, want: 'error' },
    { result: { ok: false, reason: 'error:EADDRNOTAVAIL' }, want: 'error' },
  ];
  for (const c of cases) {
    it(`${c.result.reason} is ${c.want}`, () => assert.equal(verdictOf({ ...c.result, ms: 1 }), c.want));
  }
});

describe('pairs', () => {
  const source = { text: 'outside@203.0.113.10', controlSocket: '/s', address: '203.0.113.10' };
  const dest = { text: 'node-1:30080', ip: '198.18.0.11', port: 30080 };

  it('are probed from the chosen address, any server answering', () => {
    assert.deepStrictEqual(pairTarget('0', source, dest, 'UDP'), {
      key: '0',
      ip: '198.18.0.11',
      port: 30080,
      protocol: 'UDP',
      anyPeer: true,
      source: '203.0.113.10',
    });
    assert.equal(pairTarget('0', { text: 'node-1', controlSocket: '/s' }, dest, 'TCP').source, undefined);
  });

  it('are reported with verdict, peer and time, as JSON and as a table', () => {
    const got = [
      pairResult(source, dest, 'TCP', { ok: true, reason: 'connected', peer: 'shop/web', ms: 1.5 }),
      pairResult({ text: 'node-1', controlSocket: '/s' }, dest, 'TCP', {
        ok: false,
        reason: 'timeout',
        ms: 1000.2,
      }),
    ];
    assert.deepStrictEqual(got[0], {
      from: 'outside@203.0.113.10',
      to: 'node-1:30080',
      source: '203.0.113.10',
      address: '198.18.0.11',
      port: 30080,
      protocol: 'tcp',
      verdict: 'connected',
      reason: 'connected',
      peer: 'shop/web',
      ms: 1.5,
    });
    assert.equal(got[1]!.peer, null);
    assert.equal(got[1]!.source, null);
    assert.equal(
      renderPairsTable(got),
      [
        'FROM                  TO                                    VERDICT    PEER      REASON     TIME',
        'outside@203.0.113.10  node-1:30080 (198.18.0.11:30080/tcp)  connected  shop/web  connected  1.5 ms',
        'node-1                node-1:30080 (198.18.0.11:30080/tcp)  dropped    -         timeout    1000.2 ms',
        '',
      ].join('\n'),
    );
  });
});
