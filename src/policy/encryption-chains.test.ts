// Strict encryption in the compiled table, run through the IR interpreter: what goes to a remote node's pods
// leaves only by the tunnel, forwarded or the node's own; a node with no valid key is covered all the same;
// local traffic and other destinations are untouched; off, the table has none of it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePacket, type Packet } from '../ir/eval.js';
import type { ClusterState } from '../model/cluster.js';
import { STRICT_CHAINS, strictComment } from './names.js';
import { NodeCompiler } from './node-compiler.js';

const state: ClusterState = {
  namespaces: [{ name: 'default', labels: {} }],
  pods: [],
  nodes: [
    { name: 'node-1', ips: ['198.18.0.11'], labels: {}, podCIDRs: ['10.244.0.0/24'] },
    { name: 'node-2', ips: ['198.18.0.12'], labels: {}, podCIDRs: ['10.244.1.0/24', 'fd00:10:1::/64'] },
    // Publishes nothing valid: not a peer, and still never reached in clear.
    { name: 'node-3', ips: ['198.18.0.13'], labels: {}, podCIDRs: ['10.244.2.0/24'], wireguard: '{' },
  ],
  policies: [],
};

const packet = (over: Partial<Packet>): Packet => ({
  iifname: 'palabc',
  oifname: 'eth0',
  saddr: '10.244.0.5',
  daddr: '10.244.1.7',
  protocol: 'TCP',
  dport: 80,
  ctState: 'new',
  ...over,
});

describe('strict encryption', () => {
  const table = new NodeCompiler('node-1', {
    strictEncryption: { ifaces: ['pw-node-1', 'pw-node-1~'] },
  }).compile(state).table;

  it('a pod packet to a remote pod CIDR leaves only by the tunnel', () => {
    assert.equal(evaluatePacket(table, packet({ oifname: 'pw-node-1' })).verdict, 'accept');
    const out = evaluatePacket(table, packet({}));
    assert.equal(out.verdict, 'drop');
    assert.deepEqual(out.trail, [strictComment('node-2')], 'counted against the node it was for');
    assert.equal(
      evaluatePacket(table, packet({ daddr: 'fd00:10:1::9', saddr: 'fd00:10::5' })).verdict,
      'drop',
    );
    assert.equal(
      evaluatePacket(table, packet({ daddr: 'fd00:10:1::9', saddr: 'fd00:10::5', oifname: 'pw-node-1' }))
        .verdict,
      'accept',
    );
  });

  it("a node that is no peer is covered too, and the node's own packets (output) as well as forwarded ones", () => {
    assert.equal(evaluatePacket(table, packet({ daddr: '10.244.2.9' })).verdict, 'drop');
    const own = packet({ iifname: '', saddr: '198.18.0.11', daddr: '10.244.2.9' });
    assert.equal(evaluatePacket(table, own, ['output']).verdict, 'drop');
    assert.equal(evaluatePacket(table, { ...own, oifname: 'pw-node-1' }, ['output']).verdict, 'accept');
  });

  it('either interface of a rotation lets it out', () => {
    assert.equal(evaluatePacket(table, packet({ oifname: 'pw-node-1~' })).verdict, 'accept');
    assert.equal(evaluatePacket(table, packet({ oifname: 'pw-node-1x' })).verdict, 'drop');
  });

  it('its own pods, the underlay and the rest of the world are untouched', () => {
    assert.equal(evaluatePacket(table, packet({ daddr: '10.244.0.9', oifname: 'palxyz' })).verdict, 'accept');
    assert.equal(evaluatePacket(table, packet({ daddr: '198.18.0.12' })).verdict, 'accept');
    assert.equal(evaluatePacket(table, packet({ daddr: '8.8.8.8' }), ['output']).verdict, 'accept');
  });

  it('off: no strict chain at all', () => {
    const plain = new NodeCompiler('node-1').compile(state).table;
    const names = plain.chains.map((c) => c.name);
    assert.ok(!names.includes(STRICT_CHAINS.forward) && !names.includes(STRICT_CHAINS.output));
  });

  it('a node joining or leaving changes the sets and rules on the next compile', () => {
    const c = new NodeCompiler('node-1', { strictEncryption: { ifaces: ['pw-node-1', 'pw-node-1~'] } });
    c.compile(state);
    const fewer = c.compile({ ...state, nodes: state.nodes.slice(0, 2) }).table;
    assert.equal(evaluatePacket(fewer, packet({ daddr: '10.244.2.9' })).verdict, 'accept', 'node-3 left');
    assert.equal(evaluatePacket(fewer, packet({})).verdict, 'drop');
  });
});
