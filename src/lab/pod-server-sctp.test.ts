import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandError, createFakeRunner } from '../dataplane/runner.js';
import {
  classifySocatFailure,
  kernelHasSctp,
  probeSctp,
  sctpConnectArgv,
  sctpListenArgv,
  sctpPortBound,
} from './pod-server-sctp.js';

const target = { key: 'ns/a', ip: '10.244.1.5', port: 9000, protocol: 'SCTP' as const };

describe('SCTP through socat', () => {
  it('detects kernel support from /proc/sys/net/sctp', () => {
    assert.equal(
      kernelHasSctp((p) => p === '/proc/sys/net/sctp'),
      true,
    );
    assert.equal(
      kernelHasSctp(() => false),
      false,
    );
  });

  it('builds a dual-stack forking listener that writes the id', () => {
    assert.deepStrictEqual(sctpListenArgv('ns/a', 9000), [
      'socat',
      'SCTP6-LISTEN:9000,ipv6only=0,fork,reuseaddr',
      'SYSTEM:echo ns/a',
    ]);
  });

  it('builds one-shot clients for IPv4 and IPv6 with the timeout in seconds', () => {
    assert.deepStrictEqual(sctpConnectArgv(target, 1000), [
      'socat',
      '-T',
      '1',
      '-u',
      'SCTP4-CONNECT:10.244.1.5:9000,connect-timeout=1',
      'STDOUT',
    ]);
    assert.deepStrictEqual(sctpConnectArgv({ ip: 'fd00::5', port: 38412 }, 250), [
      'socat',
      '-T',
      '0.25',
      '-u',
      'SCTP6-CONNECT:[fd00::5]:38412,connect-timeout=0.25',
      'STDOUT',
    ]);
  });

  const failures: { stderr: string; signal?: string; want: string }[] = [
    { stderr: '', signal: 'SIGTERM', want: 'timeout' },
    {
      stderr: '2026/11/24 socat[1] E socket(2, 1, 132): Protocol not supported',
      want: 'sctp not supported by the kernel',
    },
    { stderr: 'socat[1] E connect(5, AF=2 10.0.0.1:9000, 16): Connection refused', want: 'refused' },
    { stderr: 'socat[1] E connect(5, AF=2 10.0.0.1:9000, 16): Connection timed out', want: 'timeout' },
    { stderr: 'socat[1] E connect(5, AF=2 10.0.0.1:9000, 16): No route to host', want: 'unreachable' },
    { stderr: 'socat[1] E connect(5, AF=2 10.9.9.9:9000, 16): Network is unreachable', want: 'unreachable' },
    { stderr: 'socat[1] E read(5, 0x1, 8192): Connection reset by peer', want: 'reset' },
    { stderr: '2026/11/24 08:00:00 socat[1] E something odd', want: 'error:something odd' },
    { stderr: '', want: 'error:socat failed' },
  ];
  for (const c of failures) {
    it(`classifies "${c.stderr.slice(-30) || c.signal || 'empty'}" as ${c.want}`, () => {
      assert.equal(classifySocatFailure(c.stderr, c.signal), c.want);
    });
  }

  it('finds a bound port in /proc/net/sctp/eps', () => {
    const eps =
      ' ENDPT     SOCK   STY SST HBKT LPORT   UID INODE LADDRS\n' +
      'ffff8881 ffff8882 2   10  29   9000      0 12345 10.244.1.5\n';
    assert.equal(sctpPortBound(eps, 9000), true);
    assert.equal(sctpPortBound(eps, 900), false);
    assert.equal(sctpPortBound('', 9000), false);
  });

  it('probes through the runner and judges the id socat printed', async () => {
    const runner = createFakeRunner(() => ({ stdout: 'ns/a\n', stderr: '' }));
    const r = await probeSctp(runner, target, 500);
    assert.deepStrictEqual({ ok: r.ok, reason: r.reason }, { ok: true, reason: 'connected' });
    assert.deepStrictEqual(runner.calls[0]!.argv, sctpConnectArgv(target, 500));
    assert.equal(runner.calls[0]!.opts.timeoutMs, 500);
  });

  it('reports wrong peers and socat failures', async () => {
    const wrong = await probeSctp(
      createFakeRunner(() => ({ stdout: 'ns/b\n', stderr: '' })),
      target,
      500,
    );
    assert.equal(wrong.reason, 'wrong-peer:ns/b');
    const refused = createFakeRunner(
      (argv) =>
        new CommandError(argv, 1, 'socat[9] E connect(5, AF=2 10.244.1.5:9000, 16): Connection refused'),
    );
    assert.deepStrictEqual((await probeSctp(refused, target, 500)).reason, 'refused');
    const killed = createFakeRunner((argv) => new CommandError(argv, null, '', 'SIGTERM'));
    assert.deepStrictEqual((await probeSctp(killed, target, 500)).reason, 'timeout');
  });
});
