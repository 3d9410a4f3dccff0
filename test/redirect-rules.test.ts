// The chained "redirect" table on real packets: a pod netns and a client netns joined by a veth, socat listeners
// that answer with their own name, and socat clients that print what answered. Everything runs inside the two
// namespaces this test makes; listeners are killed by PID (their process group) and the namespaces removed in after().
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { REDIRECT_TABLE, type RedirectSpec, renderRedirectScript } from '../src/chained/redirect-rules.js';
import { Listeners, whoAnswers } from './helpers/listeners.js';
import { createFixture, runner } from './helpers/netns.js';

const fx = createFixture('prr');
const CLIENT_IP = '10.99.0.1';
const CLIENT_IP_EXCLUDED = '10.99.0.3';
const POD_IP = '10.99.0.2';
const CLIENT_IP6 = 'fd00:98::1';
const POD_IP6 = 'fd00:98::2';
const PROXY_UID = 1337;
const OTHER_UID = 1338;
const T = { timeout: 20_000 };

const INBOUND: RedirectSpec = { inboundPorts: [8080, 8443], proxyPort: 15006, proxyUid: PROXY_UID };
const FULL: RedirectSpec = {
  ...INBOUND,
  proxyMark: 0x539,
  outbound: {
    proxyPort: 15001,
    includeCidrs: ['0.0.0.0/0', '::/0'],
    excludeCidrs: [`${CLIENT_IP_EXCLUDED}/32`, 'fd00:99::/64'],
    excludePorts: [7071],
  },
};

let pod = '';
let client = '';
const listeners = new Listeners(fx.tmp);

async function nft(args: string[], input?: string): Promise<string> {
  return (await runner.run(['nft', ...args], { netns: pod, input, timeoutMs: 5000 })).stdout;
}

async function ourTables(): Promise<number> {
  const objs = (
    JSON.parse(await nft(['-j', 'list', 'tables'])) as { nftables: { table?: { name: string } }[] }
  ).nftables;
  return objs.filter((o) => o.table?.name === REDIRECT_TABLE).length;
}

async function chainsAndRules(): Promise<Record<string, number>> {
  const out = await nft(['-j', 'list', 'table', 'inet', REDIRECT_TABLE]);
  const objs = (JSON.parse(out) as { nftables: { chain?: { name: string }; rule?: { chain: string } }[] })
    .nftables;
  const counts: Record<string, number> = {};
  for (const o of objs) {
    if (o.chain) counts[o.chain.name] ??= 0;
    if (o.rule) counts[o.rule.chain] = (counts[o.rule.chain] ?? 0) + 1;
  }
  return counts;
}

before(async () => {
  pod = await fx.netns('pod');
  client = await fx.netns('client');
  const [vp, vc] = [`${fx.prefix}p`, `${fx.prefix}c`];
  // Made from inside the pod netns, peer straight into the client netns: the root netns never holds either end.
  await runner.run(
    ['ip', 'link', 'add', vp, 'type', 'veth', 'peer', 'name', vc, 'netns', `${fx.prefix}-client`],
    {
      netns: pod,
    },
  );
  await runner.run(['ip', 'addr', 'add', `${POD_IP}/24`, 'dev', vp], { netns: pod });
  await runner.run(['ip', 'link', 'set', vp, 'up'], { netns: pod });
  await runner.run(['ip', 'addr', 'add', `${CLIENT_IP}/24`, 'dev', vc], { netns: client });
  // IPv6 too, without duplicate address detection (the addresses are usable at once).
  await runner.run(['ip', 'addr', 'add', `${POD_IP6}/64`, 'dev', vp, 'nodad'], { netns: pod });
  await runner.run(['ip', 'addr', 'add', `${CLIENT_IP6}/64`, 'dev', vc, 'nodad'], { netns: client });
  await runner.run(['ip', 'addr', 'add', `${CLIENT_IP_EXCLUDED}/24`, 'dev', vc], { netns: client });
  await runner.run(['ip', 'link', 'set', vc, 'up'], { netns: client });
  await listeners.listen(pod, 15006, 'proxy-in');
  await listeners.listen(pod, 15001, 'proxy-out');
  await listeners.listen(pod, 8080, 'app-8080');
  await listeners.listen(pod, 9090, 'app-9090');
  await listeners.listen(client, 7070, 'client-7070');
  await listeners.listen(client, 7071, 'client-7071');
});

after(async () => {
  listeners.stop();
  await fx.cleanup();
});

describe('the redirect table in a pod netns', () => {
  it('nft -c accepts the inbound-only and the full script', T, async () => {
    await nft(['-c', '-f', '-'], renderRedirectScript(INBOUND));
    await nft(['-c', '-f', '-'], renderRedirectScript(FULL));
  });

  it('applies twice as a replace: one table, its chain, one rule', T, async () => {
    for (let i = 0; i < 2; i++) await nft(['-f', '-'], renderRedirectScript(INBOUND));
    assert.equal(await ourTables(), 1);
    assert.deepStrictEqual(await chainsAndRules(), { inbound: 1 });
  });

  it('a listed port reaches the proxy, which can recover the original port', T, async () => {
    assert.equal(await whoAnswers(client, POD_IP, 8080), 'proxy-in');
    const { stdout } = await runner.run(['conntrack', '-L', '-p', 'tcp', '--orig-port-dst', '8080'], {
      netns: pod,
    });
    const flow = new RegExp(
      `src=${CLIENT_IP} dst=${POD_IP} sport=(\\d+) dport=8080 src=${POD_IP} dst=${CLIENT_IP} sport=15006 dport=\\1`,
    );
    assert.match(stdout, flow);
  });

  it('over IPv6 too: a listed port reaches the proxy, another its own listener', T, async () => {
    await runner.run(['nft', '-f', '-'], { netns: pod, input: renderRedirectScript(INBOUND) });
    assert.equal(await whoAnswers(client, POD_IP6, 8080), 'proxy-in');
    assert.equal(await whoAnswers(client, POD_IP6, 9090), 'app-9090');
  });
  it('a port not listed reaches its own listener unchanged', T, async () => {
    assert.equal(await whoAnswers(client, POD_IP, 9090), 'app-9090');
  });

  it(
    'outbound capture spares the proxy uid, excluded addresses and ports; captures the rest',
    T,
    async () => {
      for (let i = 0; i < 2; i++) await nft(['-f', '-'], renderRedirectScript(FULL));
      assert.equal(await ourTables(), 1);
      assert.deepStrictEqual(await chainsAndRules(), { inbound: 1, outbound: 8 });
      assert.equal(await whoAnswers(pod, CLIENT_IP, 7070, PROXY_UID), 'client-7070');
      assert.equal(await whoAnswers(pod, CLIENT_IP, 7070, OTHER_UID), 'proxy-out');
      assert.equal(await whoAnswers(pod, CLIENT_IP, 7070), 'proxy-out'); // root is not the proxy either
      assert.equal(await whoAnswers(pod, CLIENT_IP, 7071, OTHER_UID), 'client-7071');
      assert.equal(await whoAnswers(pod, CLIENT_IP_EXCLUDED, 7070, OTHER_UID), 'client-7070');
      assert.equal(await whoAnswers(client, POD_IP, 8443), 'proxy-in'); // inbound still redirected
    },
  );
});
