// Conntrack through ctnetlink in-process (src/dataplane/netlink/conntrack-netlink.ts) against conntrack-tools:
// the entries it lists are the ones `conntrack -L -o extended` prints (read by the project's text parser, which
// has its own tests against conntrack's output), its addresses are `ip -j addr`'s, and an entry it deletes is
// gone for `conntrack -L` too. Real flows, in a namespace of the test's own.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { parseHostAddrs } from '../src/agent/conntrack.js';
import { parseConntrack } from '../src/agent/conntrack-parse.js';
import { loadNative, nativeUnavailableReason } from '../src/dataplane/native.js';
import { netlinkConntrack } from '../src/dataplane/netlink/conntrack-netlink.js';
import { createFixture, ensureBuilt, runner } from './helpers/netns.js';

const fx = createFixture('pct');
const children: ChildProcess[] = [];
let ns = '';

before(async () => {
  ensureBuilt();
  ns = await fx.netns('ct');
  await runner.run(['ip', '-batch', '-'], {
    netns: ns,
    input: 'addr add 192.0.2.10/32 dev lo\naddr add 2001:db8::10/128 dev lo nodad\n',
  });
  // A table that uses conntrack, so the namespace tracks flows.
  await runner.run(['nft', '-f', '-'], {
    netns: ns,
    input:
      'table inet t {\n chain in { type filter hook input priority 0; ct state established,related accept; }\n}\n',
  });
  // A TCP listener and a client that keeps its connection open, over IPv4 and IPv6; one UDP datagram.
  const bg = (...argv: string[]) => {
    const c = spawn('nsenter', [`--net=${ns}`, '--', ...argv], { stdio: 'ignore' });
    children.push(c);
  };
  bg('socat', 'TCP4-LISTEN:7001,bind=192.0.2.10,fork,reuseaddr', 'EXEC:cat');
  bg('socat', 'TCP6-LISTEN:7002,bind=[2001:db8::10],fork,reuseaddr', 'EXEC:cat');
  await new Promise((r) => setTimeout(r, 300));
  bg('sh', '-c', 'sleep 30 | socat - TCP4:192.0.2.10:7001');
  bg('sh', '-c', 'sleep 30 | socat - TCP6:[2001:db8::10]:7002');
  await runner.run(['sh', '-c', 'echo x | socat - UDP4-SENDTO:192.0.2.10:7003'], { netns: ns });
  await new Promise((r) => setTimeout(r, 300));
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await fx.cleanup();
});

const key = (e: { protocol: string; original: { src: string; dst: string; sport: number; dport: number } }) =>
  `${e.protocol} ${e.original.src}:${e.original.sport} > ${e.original.dst}:${e.original.dport}`;

describe('conntrack through netlink', () => {
  const native = loadNative();
  before(() => assert.ok(native, `palisade-native.node: ${nativeUnavailableReason()}`));

  it('lists what conntrack -L lists, field for field, and the addresses ip lists', async () => {
    const access = netlinkConntrack(native!, { netns: ns });
    const got = await access.list(5000);
    const { stdout } = await runner.run(['conntrack', '-L', '-o', 'extended'], { netns: ns });
    const want = parseConntrack(stdout);
    assert.ok(want.length >= 3, `the flows exist: ${stdout}`);
    const sort = (xs: typeof want) => [...xs].sort((a, b) => key(a).localeCompare(key(b)));
    assert.deepEqual(sort(got.entries), sort(want));
    const addrs = await runner.run(['ip', '-j', 'addr', 'show'], { netns: ns });
    assert.deepEqual([...got.hostAddrs].sort(), [...parseHostAddrs(addrs.stdout)].sort());
    assert.ok(got.hostAddrs.has('2001:db8::10'));
  });

  it('deletes an entry (conntrack -L no longer shows it); deleting it again is false', async () => {
    const access = netlinkConntrack(native!, { netns: ns });
    const { entries } = await access.list(5000);
    const victim = entries.find((e) => e.protocol === 'TCP' && e.family === 6 && e.original.dport === 7002);
    assert.ok(victim, 'the IPv6 TCP flow');
    assert.equal(await access.delete(victim, 5000), true);
    const { stdout } = await runner.run(['conntrack', '-L', '-o', 'extended'], { netns: ns });
    const left = parseConntrack(stdout).map(key);
    assert.ok(!left.includes(key(victim)), `${key(victim)} gone: ${left.join(', ')}`);
    assert.ok(
      left.some((k) => k.includes(':7001')),
      'the other flow stays',
    );
    assert.equal(await access.delete(victim, 5000), false);
  });
});
