import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CniError } from './errors.js';
import { assertVersionAllows, compareVersions, type Verb, versionResult } from './version.js';

describe('versions', () => {
  it('compares numerically', () => {
    assert.ok(compareVersions('0.4.0', '0.10.0') < 0);
    assert.equal(compareVersions('1.1.0', '1.1.0'), 0);
    assert.ok(compareVersions('1.1.0', '1.0.0') > 0);
  });
  it('VERSION reports every supported version', () => {
    assert.deepEqual(versionResult(), {
      cniVersion: '1.1.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
  });
  const table: [string, Verb, boolean][] = [
    ['0.3.1', 'ADD', true],
    ['0.3.1', 'CHECK', false],
    ['0.4.0', 'CHECK', true],
    ['1.0.0', 'GC', false],
    ['1.0.0', 'STATUS', false],
    ['1.1.0', 'GC', true],
    ['1.1.0', 'STATUS', true],
    ['0.2.0', 'ADD', false],
    ['2.0.0', 'ADD', false],
  ];
  for (const [version, verb, ok] of table) {
    it(`${verb} with cniVersion ${version}: ${ok ? 'allowed' : 'code 1'}`, () => {
      if (ok) assertVersionAllows(version, verb);
      else
        assert.throws(
          () => assertVersionAllows(version, verb),
          (e: unknown) => e instanceof CniError && e.code === 1,
        );
    });
  }
});
