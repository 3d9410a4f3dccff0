// Lockout protection with a real API server (issue 11 §2, §5): the lab's agents keep their nodes' HostEndpoints and
// run with narrow failsafes (SSH in, nothing out) and a confirm window of 3 s. They are told the API server is at
// a decoy address (as an operator might, the real one being behind a name or a VIP), so:
// - a deny-all host policy is refused before it is programmed (it would cut the connections the agent checks),
//   named in /status with the connection, and the node still reaches the real API server;
// - a policy that cuts the real API server passes those checks (they look at the decoy), is programmed, and the
//   confirm window rolls it back by itself when the API server stops answering: the previous rules come back.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentPaths, agentStatus } from '../src/lab/agents.js';
import { createLab } from './helpers/lab.js';
import { REPO } from './helpers/netns.js';

const DECOY = '198.18.0.99';
const API = '198.18.0.2';
process.env.PALISADE_AGENT_ARGS = `--failsafe-inbound tcp:22 --failsafe-outbound none --api-server ${DECOY}:6443 --confirm-window 3000`;

const gnp = (name: string, spec: string) =>
  `apiVersion: palisade.dev/v1\nkind: GlobalNetworkPolicy\nmetadata: { name: ${name} }\nspec:\n${spec}`;

const DENY_ALL = gnp(
  'deny-all-host',
  `  order: 1\n  selector: has(host-endpoint)\n  types: [Ingress, Egress]\n  ingress: [{ action: Deny }]\n  egress: [{ action: Deny }]\n`,
);
const CUT_API = gnp(
  'cut-api',
  `  order: 1\n  selector: has(host-endpoint)\n  types: [Egress]\n  egress: [{ action: Deny, protocol: TCP, destination: { nets: [${API}/32], ports: [6443] } }, { action: Allow }]\n`,
);

interface HostPolicyStatus {
  hostPolicy: { refused: { object: string; reason: string; connection: string }[] };
}

const lab = createLab('plk', { controlPlane: 'kubernetes', hostEndpointLabels: ['host-endpoint=ingress'] });
const status = async (node: string) =>
  (await agentStatus(agentPaths(lab.dir, node).statusSocket)) as unknown as HostPolicyStatus;
const inTable = async (node: string, name: string) =>
  (await lab.palisade('lab', 'exec', node, '--', 'nft', 'list', 'table', 'inet', 'palisade')).includes(name);

describe('lockout protection on the real control plane', () => {
  before(async () => {
    await lab.up(2, join(REPO, 'examples', 'demo.yaml'));
  });
  after(async () => {
    delete process.env.PALISADE_AGENT_ARGS;
    await lab.down();
  });

  it('a deny-all on the host is refused on every node, named with the connection it would cut', async () => {
    await lab.applyText(DENY_ALL);
    for (const node of ['node-1', 'node-2']) {
      const refused = (await status(node)).hostPolicy.refused;
      assert.deepEqual(
        refused.map((r) => [r.object, r.reason]),
        [['gnp:deny-all-host', 'would-cut']],
        node,
      );
      assert.match(refused[0]!.connection, new RegExp(`${DECOY.replaceAll('.', '\\.')}`));
      assert.equal(await inTable(node, 'gnp:deny-all-host'), false, `${node}: not programmed`);
    }
    const api = await lab.probePairs(['node-1'], [`${API}:6443`]);
    assert.equal(api[0]!.verdict, 'connected');
    await lab.applyText(DENY_ALL, 'delete');
  });

  it('a rule the checks cannot see coming is rolled back by the confirm window', async () => {
    // `lab apply` would wait for agents that can no longer report through the API: write with kubectl.
    const file = join(lab.fx.tmp, 'cut-api.yaml');
    writeFileSync(file, CUT_API);
    await lab.palisade('lab', 'kubectl', 'apply', '-f', file);
    const deadline = Date.now() + 20_000;
    let refused: HostPolicyStatus['hostPolicy']['refused'] = [];
    while (Date.now() < deadline) {
      refused = (await status('node-1')).hostPolicy.refused;
      if (refused.some((r) => r.reason === 'confirm-expired')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(
      refused.map((r) => [r.object, r.reason]),
      [['gnp:cut-api', 'confirm-expired']],
    );
    assert.equal(await inTable('node-1', 'gnp:cut-api'), false, 'the previous rules are back');
    const api = await lab.probePairs(['node-1'], [`${API}:6443`]);
    assert.equal(api[0]!.verdict, 'connected', 'the node reaches the API server again');
  });
});
