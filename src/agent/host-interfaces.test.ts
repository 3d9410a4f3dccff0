// The node's link check (host-interfaces.ts) with a scripted listing: listed when the node's named interfaces
// change and periodically while there are any, reported only when the links differ, unknown after a failure.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { HostEndpoint } from '../model/host-endpoint.js';
import { parseHostEndpoint } from '../model/host-endpoint-parse.js';
import { createNullLogger } from '../util/log.js';
import { createInterfaceCheck, type InterfaceCheck, namedInterfaces } from './host-interfaces.js';

const hep = (name: string, node: string, interfaceName: string): HostEndpoint =>
  parseHostEndpoint({
    apiVersion: 'palisade.dev/v1',
    kind: 'HostEndpoint',
    metadata: { name },
    spec: { node, interfaceName },
  });

const settle = () => new Promise((r) => setTimeout(r, 20));
let check: InterfaceCheck | undefined;
afterEach(() => check?.stop());

function setup(answers: (readonly string[] | Error)[], intervalMs = 60_000) {
  const reported: (readonly string[] | undefined)[] = [];
  let lists = 0;
  check = createInterfaceCheck({
    node: 'node-a',
    list: async () => {
      lists += 1;
      const a = answers.shift() ?? [];
      if (a instanceof Error) throw a;
      return a;
    },
    intervalMs,
    onLinks: (links) => reported.push(links),
    log: createNullLogger(),
  });
  return { check, reported, lists: () => lists };
}

describe('interface check', () => {
  it('namedInterfaces: this node\'s named interfaces, not "*", each once', () => {
    const heps = [
      hep('a', 'node-a', 'eth1'),
      hep('b', 'node-a', '*'),
      hep('c', 'node-b', 'eth2'),
      hep('d', 'node-a', 'eth0'),
    ];
    assert.equal(namedInterfaces('node-a', heps), 'eth0\neth1');
  });

  it('lists when the named interfaces change, not when they stay; reports only a different listing', async () => {
    const { check, reported, lists } = setup([
      ['lo', 'eth0'],
      ['eth0', 'lo'],
    ]);
    check.saw([hep('a', 'node-b', 'eth0')]);
    await settle();
    assert.equal(lists(), 0, 'no interface of this node');
    check.saw([hep('a', 'node-a', 'eth0')]);
    await settle();
    check.saw([hep('a', 'node-a', 'eth0')]);
    await settle();
    assert.deepEqual([lists(), reported], [1, [['eth0', 'lo']]]);
    check.saw([hep('a', 'node-a', 'eth1')]);
    await settle();
    assert.deepEqual([lists(), reported.length, check.links], [2, 1, ['eth0', 'lo']]);
  });

  it('lists periodically while there are named interfaces; a failure makes the links unknown', async () => {
    const { check, reported, lists } = setup([['eth0'], new Error('ip: not found'), ['eth0', 'eth9']], 30);
    check.saw([hep('a', 'node-a', 'eth9')]);
    for (let i = 0; i < 100 && lists() < 3; i++) await settle();
    assert.deepEqual(reported.slice(0, 3), [['eth0'], undefined, ['eth0', 'eth9']]);
  });
});
