import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLineLog, formatLogLine } from './pod-server-log.js';

const at = new Date('2026-11-24T08:00:00.000Z');

describe('pod server log', () => {
  it('formats one line with key=value fields, quoting only where needed', () => {
    const line = formatLogLine(at, 'info', 'ready', {
      id: 'ns/a',
      ms: 41,
      why: 'shutdown request',
      failed: ['9000/SCTP: x'],
      err: new Error('bind failed'),
      skipped: undefined,
    });
    assert.equal(
      line,
      '2026-11-24T08:00:00.000Z info ready id=ns/a ms=41 why="shutdown request" failed=["9000/SCTP: x"] err="bind failed"\n',
    );
  });

  it('writes through the given sink with base fields first', () => {
    const lines: string[] = [];
    const log = createLineLog(
      (l) => lines.push(l),
      { id: 'ns/a' },
      () => at,
    );
    log.warn('udp reply failed', { port: 53 });
    log.error('port failed');
    assert.deepStrictEqual(lines, [
      '2026-11-24T08:00:00.000Z warn udp reply failed id=ns/a port=53\n',
      '2026-11-24T08:00:00.000Z error port failed id=ns/a\n',
    ]);
  });
});
