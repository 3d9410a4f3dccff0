import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ControlRequest,
  ControlRequestError,
  classifyError,
  encodeLine,
  parseControlRequest,
  roundMs,
  tcpVerdict,
  udpAnswer,
  udpProbePayload,
  udpVerdict,
} from './pod-server-protocol.js';

function errno(code: string): Error {
  return Object.assign(new Error(`connect ${code}`), { code });
}

describe('parseControlRequest', () => {
  const good: { line: string; want: ControlRequest }[] = [
    { line: '{"op":"status"}', want: { op: 'status' } },
    { line: '{"op":"shutdown"}', want: { op: 'shutdown' } },
    { line: '{"op":"probe","targets":[]}', want: { op: 'probe', timeoutMs: 1000, targets: [] } },
    {
      line: JSON.stringify({
        op: 'probe',
        timeoutMs: 250,
        targets: [
          { key: 'a/b', ip: '10.244.1.5', port: 80, protocol: 'TCP' },
          { key: 'a/c', ip: 'fd00::5', port: 53, protocol: 'UDP', extra: 1 },
        ],
      }),
      want: {
        op: 'probe',
        timeoutMs: 250,
        targets: [
          { key: 'a/b', ip: '10.244.1.5', port: 80, protocol: 'TCP' },
          { key: 'a/c', ip: 'fd00::5', port: 53, protocol: 'UDP' },
        ],
      },
    },
  ];
  for (const c of good) {
    it(`parses ${c.line.slice(0, 40)}`, () => assert.deepStrictEqual(parseControlRequest(c.line), c.want));
  }

  const bad: { line: string; want: string | RegExp }[] = [
    { line: 'status', want: /^request is not JSON: / },
    { line: '[]', want: 'request: [] is not an object' },
    { line: '{"op":"ping"}', want: 'op: "ping" is not one of status, probe, shutdown' },
    { line: '{}', want: 'op: (missing) is not one of status, probe, shutdown' },
    { line: '{"op":"probe","timeoutMs":0,"targets":[]}', want: 'timeoutMs: 0 is not an integer in 1..60000' },
    { line: '{"op":"probe"}', want: 'targets: (missing) is not an array' },
    {
      line: '{"op":"probe","targets":[{"key":"","ip":"10.1","port":70000,"protocol":"ICMP"}, 5]}',
      want:
        'targets[0].key: "" is not a non-empty string; targets[0].ip: "10.1" is not an IP; ' +
        'targets[0].port: 70000 is not an integer in 1..65535; targets[0].protocol: "ICMP" is not one of TCP, UDP, SCTP; ' +
        'targets[1]: 5 is not an object',
    },
    {
      line: JSON.stringify({
        op: 'probe',
        targets: [
          { key: 'a/b', ip: '10.0.0.1', port: 80, protocol: 'TCP' },
          { key: 'a/b', ip: '10.0.0.2', port: 80, protocol: 'TCP' },
        ],
      }),
      want: 'targets[1].key: "a/b" repeats an earlier target',
    },
  ];
  for (const c of bad) {
    it(`rejects ${c.line.slice(0, 50)}`, () => {
      assert.throws(
        () => parseControlRequest(c.line),
        (err: unknown) => {
          assert.ok(err instanceof ControlRequestError);
          if (typeof c.want === 'string') assert.equal(err.message, c.want);
          else assert.match(err.message, c.want);
          return true;
        },
      );
    });
  }
});

describe('classifyError', () => {
  const cases: { err: unknown; want: string }[] = [
    { err: errno('ECONNREFUSED'), want: 'refused' },
    { err: errno('ETIMEDOUT'), want: 'timeout' },
    { err: errno('EHOSTUNREACH'), want: 'unreachable' },
    { err: errno('ENETUNREACH'), want: 'unreachable' },
    { err: errno('ECONNRESET'), want: 'reset' },
    { err: errno('EPERM'), want: 'blocked-locally' },
    { err: errno('EADDRNOTAVAIL'), want: 'error:EADDRNOTAVAIL' },
    { err: new Error('boom'), want: 'error:boom' },
    { err: 'odd', want: 'error:odd' },
    { err: null, want: 'error:null' },
  ];
  for (const c of cases) {
    it(`maps ${String((c.err as { code?: string } | null)?.code ?? c.err)} to ${c.want}`, () => {
      assert.equal(classifyError(c.err), c.want);
    });
  }
});

describe('tcpVerdict', () => {
  const cases: {
    received: string;
    anyPeer?: boolean;
    want: { ok: boolean; reason: string; peer?: string };
  }[] = [
    { received: 'ns/a\n', want: { ok: true, reason: 'connected', peer: 'ns/a' } },
    { received: 'ns/a', want: { ok: true, reason: 'connected', peer: 'ns/a' } },
    { received: 'ns/a\r\nmore', want: { ok: true, reason: 'connected', peer: 'ns/a' } },
    { received: 'ns/b\n', want: { ok: false, reason: 'wrong-peer:ns/b', peer: 'ns/b' } },
    { received: 'ns/b\n', anyPeer: true, want: { ok: true, reason: 'connected', peer: 'ns/b' } },
    {
      received: 'HTTP/1.1 400 Bad Request\r\n',
      want: {
        ok: false,
        reason: 'wrong-peer:HTTP/1.1 400 Bad Request',
        peer: 'HTTP/1.1 400 Bad Request',
      },
    },
    { received: '', want: { ok: false, reason: 'no-answer' } },
    { received: '\n', anyPeer: true, want: { ok: false, reason: 'no-answer' } },
  ];
  for (const c of cases) {
    it(`judges ${JSON.stringify(c.received)}${c.anyPeer ? ' from any peer' : ''}`, () =>
      assert.deepStrictEqual(tcpVerdict({ key: 'ns/a', anyPeer: c.anyPeer }, c.received), c.want));
  }
});

describe('UDP exchange', () => {
  it('answers probes with id and nonce, and ignores anything else', () => {
    assert.equal(udpAnswer('ns/a', udpProbePayload('abc123')), 'ns/a abc123');
    assert.equal(udpAnswer('ns/a', 'probe abc123\n'), 'ns/a abc123');
    assert.equal(udpAnswer('ns/a', 'probe '), undefined);
    assert.equal(udpAnswer('ns/a', 'hello'), undefined);
    assert.equal(udpAnswer('ns/a', `probe ${'x'.repeat(65)}`), undefined);
  });

  it('judges replies by id, and skips replies to other nonces', () => {
    const a = { key: 'ns/a' };
    assert.deepStrictEqual(udpVerdict(a, 'n1', 'ns/a n1'), { ok: true, reason: 'replied', peer: 'ns/a' });
    assert.deepStrictEqual(udpVerdict(a, 'n1', 'ns/b n1\n'), {
      ok: false,
      reason: 'wrong-peer:ns/b',
      peer: 'ns/b',
    });
    assert.deepStrictEqual(udpVerdict({ key: 'node-1', anyPeer: true }, 'n1', 'ns/b n1'), {
      ok: true,
      reason: 'replied',
      peer: 'ns/b',
    });
    assert.equal(udpVerdict(a, 'n1', 'ns/a n0'), undefined);
    assert.equal(udpVerdict(a, 'n1', 'garbage'), undefined);
  });
});

describe('helpers', () => {
  it('encodes one JSON line', () => assert.equal(encodeLine({ ok: true }), '{"ok":true}\n'));
  it('rounds to tenths of a millisecond', () => {
    assert.equal(roundMs(1.234), 1.2);
    assert.equal(roundMs(1000.06), 1000.1);
  });
});
