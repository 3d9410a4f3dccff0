import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatResult, parseResult, type Result } from './result.js';

const result: Result = {
  interfaces: [
    { name: 'pal0123456789a', mac: 'ee:ee:ee:ee:ee:ee', mtu: 1500 },
    { name: 'eth0', mac: '02:11:22:33:44:55', mtu: 1500, sandbox: '/run/netns/p' },
  ],
  ips: [
    { address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 1 },
    { address: 'fd00::5/128', gateway: 'fe80::ecee:eeff:feee:eeee', interface: 1 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
  dns: {},
};

describe('formatResult', () => {
  it('1.1.0 carries interface mtu and no ips[].version', () => {
    assert.deepEqual(formatResult(result, '1.1.0'), {
      cniVersion: '1.1.0',
      interfaces: [
        { name: 'pal0123456789a', mac: 'ee:ee:ee:ee:ee:ee', mtu: 1500 },
        { name: 'eth0', mac: '02:11:22:33:44:55', mtu: 1500, sandbox: '/run/netns/p' },
      ],
      ips: [
        { address: '10.244.1.5/32', gateway: '169.254.1.1', interface: 1 },
        { address: 'fd00::5/128', gateway: 'fe80::ecee:eeff:feee:eeee', interface: 1 },
      ],
      routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
      dns: {},
    });
  });
  it('1.0.0 drops mtu', () => {
    const out = formatResult(result, '1.0.0') as { interfaces: Record<string, unknown>[] };
    assert.equal(out.interfaces[0]!.mtu, undefined);
  });
  for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
    it(`${v} carries ips[].version`, () => {
      const out = formatResult(result, v) as { cniVersion: string; ips: Record<string, unknown>[] };
      assert.equal(out.cniVersion, v);
      assert.deepEqual(
        out.ips.map((i) => i.version),
        ['4', '6'],
      );
    });
  }
  it('parseResult reads back any version', () => {
    for (const v of ['0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
      const back = parseResult(formatResult(result, v));
      assert.deepEqual(back.ips, result.ips);
      assert.equal(back.interfaces[1]!.sandbox, '/run/netns/p');
    }
  });
});
