// The interpreter on the base chains' own rules: a new TCP packet that is not a SYN never opens a connection
// (no mid-stream pickup after a revocation), whatever the policies say.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePacket, type Packet } from '../ir/eval.js';
import { compileNode } from './compile.js';
import { demoCluster } from './testdata/builders.js';

// shop/web (node-1, palweb) → shop/cart (node-1, palcart), no policies: everything allowed.
const table = compileNode(demoCluster([]), 'node-1').table;
const base: Packet = {
  iifname: 'palweb',
  oifname: 'palcart',
  saddr: '10.244.1.1',
  daddr: '10.244.1.2',
  protocol: 'TCP',
  dport: 8080,
  ctState: 'new',
};

describe('new TCP packets without SYN', () => {
  it('a SYN opens a connection', () => {
    assert.equal(evaluatePacket(table, base).verdict, 'accept');
  });
  it('a mid-stream packet is dropped, by the rule that says why', () => {
    const v = evaluatePacket(table, { ...base, tcpOpening: false });
    assert.equal(v.verdict, 'drop');
    assert.match(v.trail.at(-1)!, /no mid-stream pickup/);
  });
  it('other protocols and established packets are not affected', () => {
    assert.equal(evaluatePacket(table, { ...base, protocol: 'UDP', tcpOpening: false }).verdict, 'accept');
    assert.equal(
      evaluatePacket(table, { ...base, ctState: 'established', tcpOpening: false }).verdict,
      'accept',
    );
  });
});
