// Semantic cases: each flow is decided by running its packets through the compiled tables of the nodes it
// crosses (ir-eval), and must match what NetworkPolicy says.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Table } from '../ir/ir.js';
import type { ClusterState, Flow } from '../model/cluster.js';
import { compileNode } from './compile.js';
import { decideFlow } from './flow-path.js';
import { demoCluster, demoFlow } from './testdata/builders.js';
import { SCENARIOS } from './testdata/scenarios.js';

export function tablesFor(state: ClusterState): Map<string, Table> {
  return new Map(state.nodes.map((n) => [n.name, compileNode(state, n.name).table]));
}

const flow = demoFlow;

type Case = [name: string, scenario: string, flow: Flow, allowed: boolean];

const CASES: Case[] = [
  ['no policies: anything goes', 'no-policies', flow('web', 'db', 'TCP', 5432), true],
  ['default deny: other namespace denied', 'default-deny-shop', flow('api', 'web', 'TCP', 80), false],
  [
    'default deny: from an isolated pod outward is fine',
    'default-deny-shop',
    flow('web', 'api', 'TCP', 80),
    true,
  ],
  ['default deny: the node reaches its own pod', 'default-deny-shop', flow('node-1', 'web', 'TCP', 80), true],
  ['default deny: another node does not', 'default-deny-shop', flow('node-2', 'web', 'TCP', 80), false],
  ['namespaceSelector + named egress port, same node', 'mixed', flow('api', 'web', 'TCP', 80), true],
  ['namespaceSelector + named egress port, across nodes', 'mixed', flow('ledger', 'web', 'TCP', 80), true],
  ['same namespace but not selected by the allow', 'mixed', flow('cart', 'web', 'TCP', 80), false],
  ['named ingress port resolves on the destination', 'mixed', flow('web', 'db', 'TCP', 5432), true],
  ['named ingress port: another number is denied', 'mixed', flow('web', 'db', 'TCP', 5433), false],
  ['egress: peer has no such named port', 'mixed', flow('api', 'db', 'TCP', 5432), false],
  ['egress allows, broken policy isolates ingress', 'mixed', flow('api', 'cart', 'TCP', 8080), false],
  ['no policy selects billing ingress', 'mixed', flow('web', 'api', 'TCP', 80), true],
  ['ipBlock allows an outside address', 'mixed', flow('api', '10.1.2.3', 'UDP', 53), true],
  ['ipBlock except excludes the pod range', 'mixed', flow('api', 'ledger', 'UDP', 53), false],
  ['outside the ipBlock', 'mixed', flow('api', '8.8.8.8', 'UDP', 53), false],
  ['pod to its own node under egress isolation', 'mixed', flow('api', 'node-1', 'TCP', 22), true],
  ['pod to another node under egress isolation', 'mixed', flow('api', 'node-2', 'TCP', 22), false],
  ['protocol mismatch', 'mixed', flow('api', 'web', 'UDP', 80), false],
  ['egress port range allows, ingress does not', 'mixed', flow('ledger', 'web', 'TCP', 5005), false],
  ['egress rule names another namespace only', 'mixed', flow('ledger', 'api', 'TCP', 5010), false],
  ['unisolated both ways across nodes', 'mixed', flow('db', 'ledger', 'TCP', 9090), true],
];

describe('compiled rules decide flows as NetworkPolicy says', () => {
  const tables = new Map(
    Object.entries(SCENARIOS).map(([name, policies]) => [name, tablesFor(demoCluster(policies))]),
  );
  for (const [name, scenario, f, allowed] of CASES) {
    it(name, () => {
      const got = decideFlow(demoCluster(SCENARIOS[scenario]!), tables.get(scenario)!, f);
      assert.equal(got.allowed, allowed, JSON.stringify(got.hops));
    });
  }
});
