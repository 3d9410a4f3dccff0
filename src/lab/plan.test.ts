import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { labPrefix, nodeScript, planLab, podNetnsName, switchScript } from './plan.js';

describe('lab plan', () => {
  it('gives each node an underlay address and a /24 of 10.244.0.0/16', () => {
    const plan = planLab('/tmp/lab-a', 3);
    assert.deepEqual(
      plan.nodes.map((n) => [n.name, n.underlayIP, n.podCIDR]),
      [
        ['node-1', '198.18.0.11', '10.244.0.0/24'],
        ['node-2', '198.18.0.12', '10.244.1.0/24'],
        ['node-3', '198.18.0.13', '10.244.2.0/24'],
      ],
    );
    assert.ok(plan.nodes.every((n) => n.netns.startsWith(`${plan.prefix}-`)));
  });
  it('two directories never share a prefix; one directory always gets the same', () => {
    assert.notEqual(labPrefix('/tmp/lab-a'), labPrefix('/tmp/lab-b'));
    assert.equal(labPrefix('/tmp/lab-a'), labPrefix('/tmp/lab-a'));
  });
  it('rejects impossible sizes', () => {
    assert.throws(() => planLab('/x', 0), /--nodes: 0 must be an integer from 1 to 200/);
    assert.throws(() => planLab('/x', 1.5), /--nodes/);
  });
  it('pod netns names are short and per pod', () => {
    const a = podNetnsName('pl12345', 'shop', 'web');
    assert.notEqual(a, podNetnsName('pl12345', 'shop', 'cart'));
    assert.ok(a.length < 20);
  });
  it('node script routes the other nodes pod CIDRs over the underlay and blackholes its own', () => {
    const plan = planLab('/tmp/lab-a', 2);
    assert.equal(
      nodeScript(plan, plan.nodes[0]!),
      [
        'link set lo up',
        'addr add 198.18.0.11/24 dev eth0',
        'link set eth0 up',
        'route add blackhole 10.244.0.0/24',
        'route add 10.244.1.0/24 via 198.18.0.12 dev eth0',
        '',
      ].join('\n'),
    );
    assert.match(
      switchScript(plan),
      new RegExp(`link add n2 type veth peer name eth0 netns ${plan.prefix}-n2`),
    );
  });
});
