// The link listing's `ip -j link show` fallback: names from iproute2's JSON, through a fake Runner.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listLinkNames, parseIpLinkJson } from './host-links.js';
import type { Runner } from './runner.js';

const IP_LINK = JSON.stringify([
  { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP'], link_type: 'loopback' },
  { ifindex: 2, ifname: 'eth0', flags: ['BROADCAST', 'UP'], link_type: 'ether' },
  { ifindex: 7, ifname: 'pal1a2b3c4d', link_index: 2, link_netnsid: 0 },
]);

describe('host links', () => {
  it('parses the names of `ip -j link show`', () => {
    assert.deepEqual(parseIpLinkJson(IP_LINK), ['lo', 'eth0', 'pal1a2b3c4d']);
    assert.throws(() => parseIpLinkJson('{}'), /not a JSON array/);
    assert.throws(() => parseIpLinkJson('Object "link" is unknown'));
  });
  it('runs `ip -j link show` without the native addon, in the netns asked for', async () => {
    const calls: unknown[] = [];
    const runner: Runner = {
      run: async (argv, opts) => {
        calls.push([argv, opts]);
        return { stdout: IP_LINK, stderr: '' };
      },
    };
    assert.deepEqual(await listLinkNames({ runner }, '/run/netns/x'), ['lo', 'eth0', 'pal1a2b3c4d']);
    assert.deepEqual(calls, [[['ip', '-j', 'link', 'show'], { netns: '/run/netns/x' }]]);
  });
});
