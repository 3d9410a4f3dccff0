import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRuleCounters } from './nft-counters.js';

describe('rule counters from nft -j', () => {
  it('sums the packets of the rules by comment; rules without counter or comment are left out', () => {
    // What nft 1.0.6 prints for `nft -j list chain inet palisade encrypt_fwd` (trimmed).
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6', json_schema_version: 1 } },
        { chain: { family: 'inet', table: 'palisade', name: 'encrypt_fwd', handle: 1 } },
        {
          rule: {
            chain: 'encrypt_fwd',
            comment: 'strict: not encrypted to node node-2',
            expr: [{ match: {} }, { counter: { packets: 3, bytes: 252 } }, { drop: null }],
          },
        },
        {
          rule: {
            chain: 'encrypt_fwd',
            comment: 'strict: not encrypted to node node-2',
            expr: [{ counter: { packets: 2, bytes: 200 } }, { drop: null }],
          },
        },
        { rule: { chain: 'encrypt_fwd', comment: 'no counter', expr: [{ drop: null }] } },
        { rule: { chain: 'encrypt_fwd', expr: [{ counter: { packets: 9, bytes: 9 } }] } },
      ],
    });
    assert.deepEqual([...parseRuleCounters(json)], [['strict: not encrypted to node node-2', 5]]);
  });
});
