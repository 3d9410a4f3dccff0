// Host endpoint policy on a node, case by case, as Calico documents it (host-chains.ts has the summary and the
// links): the compiled table run by the IR interpreter through the hooks a packet crosses (raw and preDNAT
// prerouting, then input or forward; raw output then output). Each expected verdict is stated by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePacket, type Packet } from '../ir/eval.js';
import type { Hook } from '../ir/ir.js';
import { DEFAULT_FAILSAFES, parseFailsafeList } from '../model/failsafe.js';
import type { Protocol } from '../model/k8s.js';
import { compileNode } from './compile.js';
import { demoCluster } from './testdata/builders.js';
import { GLOBAL_SCENARIOS } from './testdata/scenarios.js';

const NODE = '198.18.0.11';
const host = GLOBAL_SCENARIOS.host!;
const state = {
  ...demoCluster(host.policies),
  globalPolicies: host.global,
  hostEndpoints: host.hostEndpoints,
};
const compiled = compileNode(state, 'node-1');

type Path = 'in' | 'out' | 'fwd';
const HOOKS: Readonly<Record<Path, readonly Hook[]>> = {
  in: ['prerouting', 'input'],
  out: ['output'],
  fwd: ['prerouting', 'forward'],
};

interface Case {
  readonly name: string;
  readonly path: Path;
  readonly iif?: string;
  readonly oif?: string;
  readonly src: string;
  readonly dst: string;
  readonly protocol?: Protocol;
  readonly port: number;
  readonly allowed: boolean;
  readonly untracked?: boolean;
}

function packet(c: Case): Packet {
  return {
    iifname: c.iif ?? (c.path === 'out' ? '' : 'eth0'),
    oifname: c.oif ?? (c.path === 'in' ? '' : 'eth0'),
    saddr: c.src,
    daddr: c.dst,
    protocol: c.protocol ?? 'TCP',
    dport: c.port,
    sport: 40000,
    ctState: 'new',
    daddrLocal: c.path === 'in',
  };
}

const CASES: Case[] = [
  {
    name: 'seed 003: SSH-like from a CIDR not allowed is denied before the DNAT',
    path: 'in',
    src: '192.0.2.99',
    dst: NODE,
    port: 2222,
    allowed: false,
  },
  {
    name: 'seed 003: the same from an allowed CIDR passes (default-allow profile)',
    path: 'in',
    src: '192.168.1.5',
    dst: NODE,
    port: 2222,
    allowed: true,
  },
  { name: 'failsafe: SSH from anywhere', path: 'in', src: '192.0.2.99', dst: NODE, port: 22, allowed: true },
  {
    name: 'failsafe: the kubelet from anywhere',
    path: 'in',
    src: '192.0.2.99',
    dst: NODE,
    port: 10250,
    allowed: true,
  },
  {
    name: 'failsafe: DHCP client (UDP 68)',
    path: 'in',
    src: '192.0.2.1',
    dst: NODE,
    protocol: 'UDP',
    port: 68,
    allowed: true,
  },
  { name: 'seed 003: egress allowed', path: 'out', src: NODE, dst: '192.0.2.99', port: 8080, allowed: true },
  {
    name: 'preDNAT applies to forwarded traffic too: a NodePort-like flow to a pod from a CIDR not allowed',
    path: 'fwd',
    src: '192.0.2.99',
    dst: '10.244.1.1',
    oif: 'palweb',
    port: 80,
    allowed: false,
  },
  {
    name: 'the same from an allowed CIDR: no forward policy selects "*", the pod allows',
    path: 'fwd',
    src: '192.168.1.5',
    dst: '10.244.1.1',
    oif: 'palweb',
    port: 80,
    allowed: true,
  },
  {
    name: 'doNotTrack: VXLAN in is allowed untracked before preDNAT could deny it',
    path: 'in',
    src: '192.0.2.99',
    dst: NODE,
    protocol: 'UDP',
    port: 4789,
    allowed: true,
    untracked: true,
  },
  {
    name: 'doNotTrack: VXLAN out, untracked',
    path: 'out',
    src: NODE,
    dst: '198.18.0.12',
    protocol: 'UDP',
    port: 4789,
    allowed: true,
    untracked: true,
  },
  {
    name: 'a named interface: its own endpoint, not "*": no preDNAT there, selected and undecided: denied',
    path: 'in',
    iif: 'eth1',
    src: '192.168.1.5',
    dst: '192.0.2.11',
    port: 2222,
    allowed: false,
  },
  {
    name: 'a named interface: Pass goes to its default, which is deny (no profile)',
    path: 'in',
    iif: 'eth1',
    src: '198.18.0.50',
    dst: '192.0.2.11',
    port: 2222,
    allowed: false,
  },
  {
    name: 'a named interface: the failsafes still answer',
    path: 'in',
    iif: 'eth1',
    src: '192.0.2.5',
    dst: '192.0.2.11',
    port: 22,
    allowed: true,
  },
  {
    name: 'applyOnForward: forwarded in through eth1 to 9999 is denied',
    path: 'fwd',
    iif: 'eth1',
    src: '192.0.2.5',
    dst: '10.244.1.1',
    oif: 'palweb',
    port: 9999,
    allowed: false,
  },
  {
    name: 'applyOnForward: selected and undecided forwarded traffic is denied',
    path: 'fwd',
    iif: 'eth1',
    src: '192.0.2.5',
    dst: '10.244.1.1',
    oif: 'palweb',
    port: 80,
    allowed: false,
  },
  {
    name: 'applyOnForward: a Pass of forwarded traffic lets it on to the pod',
    path: 'fwd',
    iif: 'eth1',
    src: '198.18.0.50',
    dst: '10.244.1.1',
    oif: 'palweb',
    port: 80,
    allowed: true,
  },
  {
    name: 'the node to its own pod always passes',
    path: 'out',
    oif: 'palweb',
    src: NODE,
    dst: '10.244.1.1',
    port: 9999,
    allowed: true,
  },
  {
    name: 'a pod to its own node always passes (its egress policy is the pod chain)',
    path: 'in',
    iif: 'palweb',
    src: '10.244.1.1',
    dst: NODE,
    port: 2222,
    allowed: true,
  },
  {
    name: 'loopback always passes',
    path: 'in',
    iif: 'lo',
    src: '127.0.0.1',
    dst: '127.0.0.1',
    port: 2222,
    allowed: true,
  },
];

describe('host endpoints: the compiled table decides as Calico documents', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const v = evaluatePacket(compiled.table, packet(c), HOOKS[c.path]);
      assert.equal(v.verdict, c.allowed ? 'accept' : 'drop', JSON.stringify(v.trail));
      assert.equal(v.untracked, c.untracked ?? false);
    });
  }

  it('reply traffic of an allowed connection passes whatever the policy', () => {
    const reply = { ...packet(CASES[0]!), ctState: 'established' as const };
    assert.equal(evaluatePacket(compiled.table, reply, HOOKS.in).verdict, 'accept');
  });

  it('a host endpoint without interfaceName is reported, not silently ignored', () => {
    assert.deepEqual(compiled.diagnostics.find((d) => d.policy === 'hep:node-1-by-ip')?.problems, [
      'spec.interfaceName is not set: Palisade enforces host endpoints by interface (a name or "*")',
    ]);
  });

  it('a node without a host endpoint gets no host chains: its own traffic is not policed', () => {
    const t = compileNode(state, 'node-2').table;
    assert.deepEqual(
      t.chains.filter((c) => c.base && c.base.hook !== 'forward'),
      [],
    );
  });

  it('failsafes are configurable, with a CIDR: SSH only from 10.0.0.0/8', () => {
    const only = parseFailsafeList('tcp:10.0.0.0/8:22', '--failsafe-inbound');
    assert.deepEqual(only.problems, []);
    const t = compileNode(state, 'node-1', {
      failsafes: { ...DEFAULT_FAILSAFES, inbound: only.rules },
    }).table;
    const ssh = (src: string) =>
      evaluatePacket(t, packet({ name: '', path: 'in', src, dst: NODE, port: 22, allowed: true }), HOOKS.in)
        .verdict;
    assert.equal(ssh('10.1.2.3'), 'accept');
    assert.equal(ssh('192.0.2.99'), 'drop', 'no longer a failsafe from there: drop-other-ingress decides');
  });
});
