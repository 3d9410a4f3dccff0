import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandError, createFakeRunner } from '../dataplane/runner.js';
import type { Table } from '../ir/ir.js';
import type { Protocol } from '../model/k8s.js';
import { compileNode } from '../policy/compile.js';
import { demoCluster } from '../policy/testdata/builders.js';
import { SCENARIOS } from '../policy/testdata/scenarios.js';
import { createLineLogger, createNullLogger } from '../util/log.js';
import { deleteArgv, deniedEntries, localAddresses, RevocationScheduler, revokeDenied } from './conntrack.js';
import type { ConntrackEntry } from './conntrack-parse.js';

// demo cluster: shop/web 10.244.1.1, shop/cart .1.2, billing/api .1.3 on node-1; shop/db 10.244.2.1,
// billing/ledger .2.2 on node-2; node addresses 198.18.0.11 and .12.
function entry(
  src: string,
  dst: string,
  dport: number,
  protocol: Protocol = 'TCP',
  zone = 0,
): ConntrackEntry {
  return {
    family: src.includes(':') ? 6 : 4,
    protocol,
    original: { src, dst, sport: 40000, dport },
    reply: { src: dst, dst: src, sport: dport, dport: 40000 },
    assured: true,
    unreplied: false,
    mark: 0,
    zone,
  };
}

function judge(scenario: string, node: string, entries: ConntrackEntry[], hostAddrs: string[] = []) {
  const state = demoCluster(SCENARIOS[scenario]);
  const { table } = compileNode(state, node);
  return deniedEntries(table, localAddresses(state, node), entries, new Set(hostAddrs)).map((r) => ({
    flow: `${r.entry.original.src}>${r.entry.original.dst}:${r.entry.original.dport}`,
    pods: r.pods,
    rule: r.trail.at(-1),
  }));
}

describe('deniedEntries', () => {
  const cases: {
    name: string;
    scenario: string;
    node: string;
    entries: ConntrackEntry[];
    hostAddrs?: string[];
    want: { flow: string; pods: string[]; rule: string | undefined }[];
  }[] = [
    {
      name: 'no policies: nothing is denied',
      scenario: 'no-policies',
      node: 'node-2',
      entries: [entry('10.244.1.1', '10.244.2.1', 5432), entry('10.244.2.2', '10.244.1.3', 80)],
      want: [],
    },
    {
      name: 'default deny ingress: a remote client of a local pod is cut, its egress is not',
      scenario: 'default-deny-shop',
      node: 'node-2',
      entries: [entry('10.244.1.1', '10.244.2.1', 5432), entry('10.244.2.1', '10.244.2.2', 9090, 'UDP')],
      want: [
        {
          flow: '10.244.1.1>10.244.2.1:5432',
          pods: ['shop/db'],
          rule: 'isolated ingress: shop/db, no policy allows',
        },
      ],
    },
    {
      name: 'two local pods on one node: both are named',
      scenario: 'default-deny-shop',
      node: 'node-1',
      entries: [entry('10.244.1.3', '10.244.1.1', 80)],
      want: [
        {
          flow: '10.244.1.3>10.244.1.1:80',
          pods: ['billing/api', 'shop/web'],
          rule: 'isolated ingress: shop/web, no policy allows',
        },
      ],
    },
    {
      name: 'flows with no local pod, and the node talking to its own pods, are not judged',
      scenario: 'default-deny-shop',
      node: 'node-2',
      entries: [entry('10.244.1.3', '10.244.1.1', 80), entry('198.18.0.12', '10.244.2.1', 5432)],
      hostAddrs: ['198.18.0.12'],
      want: [],
    },
    {
      name: 'mixed: what a policy still allows stays, the rest goes',
      scenario: 'mixed',
      node: 'node-2',
      entries: [
        entry('10.244.1.1', '10.244.2.1', 5432), // shop → db on pg: allowed
        entry('10.244.1.3', '10.244.2.1', 5432), // billing → db: not from shop
        entry('10.244.1.1', '10.244.2.1', 5433), // shop → db, wrong port
      ],
      want: [
        {
          flow: '10.244.1.3>10.244.2.1:5432',
          pods: ['shop/db'],
          rule: 'isolated ingress: shop/db, no policy allows',
        },
        {
          flow: '10.244.1.1>10.244.2.1:5433',
          pods: ['shop/db'],
          rule: 'isolated ingress: shop/db, no policy allows',
        },
      ],
    },
    {
      name: 'mixed: egress is judged on the sending node',
      scenario: 'mixed',
      node: 'node-1',
      entries: [entry('10.244.1.3', '10.244.2.2', 9090), entry('10.244.1.3', '10.244.1.1', 80)],
      want: [
        {
          flow: '10.244.1.3>10.244.2.2:9090',
          pods: ['billing/api'],
          rule: 'isolated egress: billing/api, no policy allows',
        },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepStrictEqual(judge(c.scenario, c.node, c.entries, c.hostAddrs), c.want);
    });
  }
});

describe('deleteArgv', () => {
  it('names the original tuple, the family and a non-default zone', () => {
    assert.deepStrictEqual(
      deleteArgv(entry('fd00::1', 'fd00::2', 53, 'UDP', 7)).join(' '),
      'conntrack -D -f ipv6 -p udp -s fd00::1 -d fd00::2 --sport 40000 --dport 53 -w 7',
    );
    assert.deepStrictEqual(
      deleteArgv(entry('10.0.0.1', '10.0.0.2', 80)).join(' '),
      'conntrack -D -f ipv4 -p tcp -s 10.0.0.1 -d 10.0.0.2 --sport 40000 --dport 80',
    );
  });
});

const LISTED = [
  'ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.1.1 dst=10.244.2.1 sport=40001 dport=5432 src=10.244.2.1 dst=10.244.1.1 sport=5432 dport=40001 [ASSURED] mark=0 use=1',
  'ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.1.2 dst=10.244.2.1 sport=40002 dport=5432 src=10.244.2.1 dst=10.244.1.2 sport=5432 dport=40002 [ASSURED] mark=0 use=1',
  'ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.1.3 dst=10.244.2.1 sport=40003 dport=5432 src=10.244.2.1 dst=10.244.1.3 sport=5432 dport=40003 [ASSURED] mark=0 use=1',
  'ipv4     2 tcp      6 431999 ESTABLISHED src=198.18.0.12 dst=10.244.2.1 sport=40004 dport=5432 src=10.244.2.1 dst=198.18.0.12 sport=5432 dport=40004 [ASSURED] mark=0 use=1',
].join('\n');
const ADDRS = JSON.stringify([{ ifname: 'eth0', addr_info: [{ local: '198.18.0.12', prefixlen: 24 }] }]);

function nodeTwo(scenario: string): { table: Table; local: ReturnType<typeof localAddresses> } {
  const state = demoCluster(SCENARIOS[scenario]);
  return { table: compileNode(state, 'node-2').table, local: localAddresses(state, 'node-2') };
}

describe('revokeDenied', () => {
  it('lists, deletes each denied entry, treats "already gone" as done and logs the rule', async () => {
    const lines: string[] = [];
    const log = createLineLogger({ level: 'info', write: (l) => lines.push(l) });
    const runner = createFakeRunner((argv) => {
      if (argv[0] === 'ip') return { stdout: ADDRS, stderr: '' };
      if (argv[1] === '-L') return { stdout: LISTED, stderr: '' };
      if (argv.includes('40002')) {
        const msg = 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n';
        return new CommandError(argv, 1, msg);
      }
      if (argv.includes('40003')) return new CommandError(argv, 1, 'Operation not permitted');
      return {
        stdout: '',
        stderr: 'conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.\n',
      };
    });
    let counted = 0;
    const { table, local } = nodeTwo('default-deny-shop');
    const done = await revokeDenied({ runner, log, onRevoked: (n) => (counted += n) }, table, local);
    const deletes = runner.calls.filter((c) => c.argv[1] === '-D').map((c) => c.argv[c.argv.length - 3]);
    assert.deepStrictEqual(deletes, ['40001', '40002', '40003']);
    assert.deepStrictEqual(
      done.map((r) => r.entry.original.sport),
      [40001, 40002],
    );
    assert.equal(counted, 2);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; rule?: string; pods?: string[] });
    const revoked = logged.filter((l) => l.msg.startsWith('established connection revoked'));
    assert.equal(revoked.length, 2);
    assert.equal(revoked[0]!.rule, 'isolated ingress: shop/db, no policy allows');
    assert.deepStrictEqual(revoked[0]!.pods, ['shop/db']);
    assert.equal(logged.filter((l) => l.msg === 'conntrack entry could not be deleted').length, 1);
  });
  it('rejects when conntrack cannot list (the scheduler logs it)', async () => {
    const runner = createFakeRunner((argv) =>
      argv[0] === 'conntrack'
        ? new CommandError(argv, 1, 'conntrack: not permitted')
        : { stdout: '[]', stderr: '' },
    );
    const { table, local } = nodeTwo('default-deny-shop');
    await assert.rejects(revokeDenied({ runner, log: createNullLogger() }, table, local), /not permitted/);
  });
});

describe('RevocationScheduler', () => {
  const { table, local } = nodeTwo('default-deny-shop');
  function scheduler(delayMs: number, revoke: () => Promise<never[]>) {
    return new RevocationScheduler({ runner: createFakeRunner(), log: createNullLogger(), delayMs, revoke });
  }
  it('-1 never revokes', async () => {
    let runs = 0;
    const s = scheduler(-1, async () => {
      runs++;
      return [];
    });
    s.changed(table, local);
    await s.idle();
    assert.equal(runs, 0);
  });
  it('coalesces changes during a run into one more run, and survives failures', async () => {
    let runs = 0;
    const s = scheduler(0, async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('boom');
    });
    s.changed(table, local);
    await new Promise((r) => setTimeout(r, 5));
    s.changed(table, local);
    s.changed(table, local);
    await s.idle();
    assert.equal(runs, 2);
    s.changed(table, local);
    await s.idle();
    assert.equal(runs, 3);
  });
  it('waits the delay before running', async () => {
    let at = 0;
    const t0 = Date.now();
    const s = scheduler(60, async () => {
      at = Date.now() - t0;
      return [];
    });
    s.changed(table, local);
    await s.idle();
    assert.ok(at >= 55, `ran after ${at} ms`);
  });
});
