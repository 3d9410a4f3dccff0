import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProbeResult } from './pod-server-protocol.js';
import {
  type Details,
  type Matrix,
  matrixFromDetails,
  matrixToJson,
  renderMatrixTable,
} from './probe-matrix.js';

function result(ok: boolean): ProbeResult {
  return { ok, reason: ok ? 'connected' : 'timeout', ms: 1 };
}

describe('matrixFromDetails', () => {
  it('keeps ok values with rows and columns sorted', () => {
    const details: Details = {
      'ns/b': { 'ns/b': result(true), 'ns/a': result(false) },
      'ns/a': { 'ns/b': result(true), 'ns/a': result(true) },
    };
    const m = matrixFromDetails(details);
    assert.deepStrictEqual(m, {
      'ns/a': { 'ns/a': true, 'ns/b': true },
      'ns/b': { 'ns/a': false, 'ns/b': true },
    });
    assert.deepStrictEqual(Object.keys(m), ['ns/a', 'ns/b']);
    assert.deepStrictEqual(Object.keys(m['ns/b']!), ['ns/a', 'ns/b']);
  });
});

describe('matrixToJson', () => {
  it('lowercases the protocol and sorts keys, exactly as the CLI prints it', () => {
    const m: Matrix = { 'x/b': { 'x/b': true, 'x/a': false }, 'x/a': { 'x/a': true, 'x/b': true } };
    const json = matrixToJson({ port: 80, protocol: 'TCP' }, m);
    assert.equal(
      JSON.stringify(json),
      '{"port":80,"protocol":"tcp","matrix":{"x/a":{"x/a":true,"x/b":true},"x/b":{"x/a":false,"x/b":true}}}',
    );
    assert.equal(matrixToJson({ port: 53, protocol: 'UDP' }, {}).protocol, 'udp');
  });
});

describe('renderMatrixTable', () => {
  it('numbers pods and marks each cell', () => {
    const m: Matrix = {
      'default/a': { 'default/a': true, 'default/b': false },
      'default/b': { 'default/a': true, 'default/b': true },
    };
    assert.equal(
      renderMatrixTable(m),
      [
        'from \\ to    1  2',
        '1 default/a  ✓  ✗',
        '2 default/b  ✓  ✓',
        '✓ reachable   ✗ not reachable   ? not probed   (column n is pod n)',
        '',
      ].join('\n'),
    );
  });

  it('keeps columns aligned past 9 pods and shows unprobed cells', () => {
    const keys = Array.from({ length: 11 }, (_, i) => `ns/p${String(i).padStart(2, '0')}`);
    const m: Matrix = {};
    for (const from of keys) m[from] = Object.fromEntries(keys.map((to) => [to, from !== to]));
    delete m['ns/p00']!['ns/p10'];
    const lines = renderMatrixTable(m).split('\n');
    assert.equal(lines[0], 'from \\ to   1   2   3   4   5   6   7   8   9  10  11');
    assert.equal(lines[1], ' 1 ns/p00   ✗   ✓   ✓   ✓   ✓   ✓   ✓   ✓   ✓   ✓   ?');
    assert.equal(lines[11], '11 ns/p10   ✓   ✓   ✓   ✓   ✓   ✓   ✓   ✓   ✓   ✓   ✗');
    const widths = new Set(lines.slice(0, 12).map((l) => [...l].length));
    assert.equal(widths.size, 1, 'every row is as wide as the header');
  });

  it('lists destinations that have no row of their own', () => {
    const out = renderMatrixTable({ 'a/x': { 'a/x': true, 'b/y': false } });
    assert.match(out, /^columns without a row: 2 b\/y$/m);
  });

  it('says so when there are no pods', () => assert.equal(renderMatrixTable({}), '(no pods)\n'));
});
