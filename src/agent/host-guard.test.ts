// Lockout protection: the guard against the real node compiler (no kernel), and the confirm window with a fake
// clock and probe (a fake: an API server that stops answering for exactly N ms cannot be staged for real in a
// unit test; test/lab-host-lockout.test.ts does it with a real one).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterState } from '../model/cluster.js';
import { parseFailsafeList } from '../model/failsafe.js';
import type { GlobalNetworkPolicy } from '../model/global-network-policy.js';
import { parseGlobalNetworkPolicy } from '../model/global-network-policy-parse.js';
import { parseHostEndpoint } from '../model/host-endpoint-parse.js';
import { NodeCompiler } from '../policy/node-compiler.js';
import { demoCluster } from '../policy/testdata/builders.js';
import { createConfirmWindow } from './host-confirm.js';
import { HostGuard } from './host-guard.js';

const API = { ip: '198.18.0.2', port: 6443 };
/** No failsafes but SSH: the API server and DNS connections are then only as open as the policies leave them. */
const FAILSAFES = { inbound: parseFailsafeList('tcp:22', 'in').rules, outbound: [] };

function gnp(name: string, spec: Record<string, unknown>): GlobalNetworkPolicy {
  const p = parseGlobalNetworkPolicy({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name },
    spec,
  });
  assert.deepEqual(p.problems, []);
  return p;
}

const HEP = parseHostEndpoint({
  apiVersion: 'palisade.dev/v1',
  kind: 'HostEndpoint',
  metadata: { name: 'node-1', labels: { 'host-endpoint': 'ingress' } },
  spec: {
    node: 'node-1',
    interfaceName: '*',
    expectedIPs: ['198.18.0.11'],
    profiles: ['projectcalico-default-allow'],
  },
});

const ALLOW_SSH_LIKE = gnp('allow-2222', {
  order: 10,
  selector: 'has(host-endpoint)',
  ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [2222, 10250] } }],
});
const DENY_ALL = gnp('deny-all', {
  order: 20,
  selector: 'has(host-endpoint)',
  types: ['Ingress', 'Egress'],
  ingress: [{ action: 'Deny' }],
  egress: [{ action: 'Deny' }],
});
const CUT_API = gnp('cut-api', {
  order: 5,
  selector: 'has(host-endpoint)',
  types: ['Egress'],
  egress: [{ action: 'Deny', protocol: 'TCP', destination: { nets: ['198.18.0.2/32'], ports: [6443] } }],
});

function setup() {
  const compiler = new NodeCompiler('node-1', { failsafes: FAILSAFES });
  const guard = new HostGuard({
    node: 'node-1',
    failsafes: FAILSAFES,
    apiServers: () => [API],
    dnsServers: () => ['198.18.0.53'],
  });
  const admit = (globalPolicies: GlobalNetworkPolicy[]) => {
    const state: ClusterState = { ...demoCluster(), globalPolicies, hostEndpoints: [HEP] };
    return guard.admit(state, (s) => compiler.compile(s));
  };
  return { guard, admit };
}

const has = (table: { chains: readonly { rules: readonly { comment: string }[] }[] }, origin: string) =>
  table.chains.some((c) => c.rules.some((r) => r.comment.startsWith(origin)));

describe('lockout protection: the first line', () => {
  it('admits a host policy that keeps the node reachable', () => {
    const { admit } = setup();
    const a = admit([ALLOW_SSH_LIKE]);
    assert.deepEqual(a.refused, []);
    assert.deepEqual(a.changed, ['hep:node-1', 'gnp:projectcalico.org/allow-2222']);
    assert.equal(a.compiles, 1);
    assert.ok(has(a.result.table, 'gnp:projectcalico.org/allow-2222'));
  });

  it('refuses a deny-all on the host, naming it and the connection it would cut; the rest goes in', () => {
    const { admit, guard } = setup();
    const a = admit([ALLOW_SSH_LIKE, DENY_ALL]);
    assert.deepEqual(
      a.refused.map((r) => [r.object, r.reason]),
      [['gnp:projectcalico.org/deny-all', 'would-cut']],
    );
    assert.match(a.refused[0]!.connection, /^node → API server 198\.18\.0\.2:6443\/TCP via any interface$/);
    assert.ok(has(a.result.table, 'gnp:projectcalico.org/allow-2222'), 'the other policy is programmed');
    assert.ok(!has(a.result.table, 'gnp:projectcalico.org/deny-all'), 'the deny-all is not');
    assert.equal(guard.refusals.length, 1);
    // Unchanged, it stays refused without being tried again; changed, it is tried again.
    assert.equal(admit([ALLOW_SSH_LIKE, DENY_ALL]).compiles, 1);
    const fixed = gnp('deny-all', {
      order: 5,
      selector: 'has(host-endpoint)',
      ingress: [{ action: 'Deny' }],
    });
    const b = admit([ALLOW_SSH_LIKE, fixed]);
    assert.deepEqual(
      b.refused.map((r) => r.object),
      ['gnp:projectcalico.org/deny-all'],
      'ingress deny-all cuts the kubelet',
    );
    assert.match(b.refused[0]!.connection, /^API server 198\.18\.0\.2 → node 198\.18\.0\.11:10250\/TCP/);
  });

  it('refuses a rule that cuts the API server, and a change to an admitted policy keeps the old version', () => {
    const { admit } = setup();
    admit([ALLOW_SSH_LIKE]);
    const changed = gnp('allow-2222', {
      ...{ order: 10, selector: 'has(host-endpoint)' },
      types: ['Ingress', 'Egress'],
      ingress: [{ action: 'Allow' }],
      egress: [{ action: 'Deny', destination: { nets: ['198.18.0.0/24'] } }],
    });
    const a = admit([changed, CUT_API]);
    assert.deepEqual(a.refused.map((r) => r.object).sort(), [
      'gnp:projectcalico.org/allow-2222',
      'gnp:projectcalico.org/cut-api',
    ]);
    const chains = a.result.table.chains.map((c) => c.comment);
    assert.ok(chains.includes('gnp:projectcalico.org/allow-2222 ingress'), 'the admitted version stays');
    assert.ok(
      !chains.includes('gnp:projectcalico.org/allow-2222 egress'),
      'the refused version (with egress) is not in',
    );
  });

  it('a node without host endpoints has nothing to protect: everything is admitted', () => {
    const compiler = new NodeCompiler('node-2', { failsafes: FAILSAFES });
    const guard = new HostGuard({
      node: 'node-2',
      failsafes: FAILSAFES,
      apiServers: () => [API],
      dnsServers: () => [],
    });
    const a = guard.admit({ ...demoCluster(), globalPolicies: [DENY_ALL], hostEndpoints: [HEP] }, (s) =>
      compiler.compile(s),
    );
    assert.deepEqual(a.refused, []);
  });
});

describe('lockout protection: the confirm window', () => {
  it('rollback() brings back the previous host rules and holds the change until it changes again', () => {
    const { admit, guard } = setup();
    admit([ALLOW_SSH_LIKE]);
    const other = gnp('allow-8080', {
      order: 11,
      selector: 'has(host-endpoint)',
      ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [8080] } }],
    });
    assert.deepEqual(admit([ALLOW_SSH_LIKE, other]).changed, ['gnp:projectcalico.org/allow-8080']);
    const held = guard.rollback('API server not reachable');
    assert.deepEqual(
      held.map((r) => [r.object, r.reason]),
      [['gnp:projectcalico.org/allow-8080', 'confirm-expired']],
    );
    const a = admit([ALLOW_SSH_LIKE, other]);
    assert.ok(!has(a.result.table, 'gnp:projectcalico.org/allow-8080'), 'rolled back');
    assert.deepEqual(a.changed, []);
    const edited = gnp('allow-8080', {
      order: 11,
      selector: 'has(host-endpoint)',
      ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [8081] } }],
    });
    assert.ok(
      has(admit([ALLOW_SSH_LIKE, edited]).result.table, 'gnp:projectcalico.org/allow-8080'),
      'edited: tried again',
    );
  });

  it('expires when the API server does not answer within the window, confirms when it does', async () => {
    let t = 0;
    const clock = {
      now: () => t,
      sleep: async (ms: number) => {
        t += ms;
      },
    };
    const expired: string[] = [];
    let answers = false;
    const w = createConfirmWindow({
      windowMs: 3000,
      probe: async () => answers,
      expire: (what) => expired.push(what),
      ...clock,
    });
    w.start();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 50 && w.open; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(expired, ['API server not reachable within 3000 ms of the change']);
    const confirmed: number[] = [];
    answers = true;
    const w2 = createConfirmWindow({
      windowMs: 3000,
      probe: async () => answers,
      expire: (what) => expired.push(what),
      confirmed: (ms) => confirmed.push(ms),
      ...clock,
    });
    w2.start();
    for (let i = 0; i < 50 && w2.open; i++) await new Promise((r) => setImmediate(r));
    assert.equal(confirmed.length, 1);
    assert.equal(expired.length, 1);
  });
});
