import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fnv1a32, fnv1a64 } from './hash.js';

describe('FNV-1a', () => {
  it('matches the published test vectors', () => {
    assert.equal(fnv1a32(''), '811c9dc5');
    assert.equal(fnv1a32('a'), 'e40c292c');
    assert.equal(fnv1a32('foobar'), 'bf9cf968');
    assert.equal(fnv1a64(''), 'cbf29ce484222325');
    assert.equal(fnv1a64('a'), 'af63dc4c8601ec8c');
    assert.equal(fnv1a64('foobar'), '85944171f73967e8');
  });
  it('hashes UTF-8 bytes, not UTF-16 code units', () => {
    assert.notEqual(fnv1a64('é'), fnv1a64('\u00e9\u0000'));
    assert.equal(fnv1a64('é').length, 16);
  });
});
