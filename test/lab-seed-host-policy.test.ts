// Seeds 003 and 002 end to end on the real control plane (issue 11 §5), with the lab's agents keeping their
// nodes' HostEndpoints (`lab up --host-endpoint-label host-endpoint=ingress`, seed 003's label):
// - seed 003: its three GlobalNetworkPolicies applied unchanged with kubectl (projectcalico.org/v3); an SSH-like
//   port on a node answers from an allowed CIDR (192.168.0.0/16) and is dropped from another address, the
//   failsafe SSH port still answers, the node still reaches the API server, and the pods' reachability matrix
//   equals the reference evaluator's (which reads the same objects from the API server);
// - seed 002: a NodePort stops answering from outside when its namespace gets a default-deny NetworkPolicy,
//   whichever node it enters and with either externalTrafficPolicy, answers again when the policy goes, and a
//   preDNAT GlobalNetworkPolicy lets one CIDR through to the NodePorts while denying the others.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PairResult } from '../src/lab/probe-pairs.js';
import { seedYaml } from '../src/model/testdata/seed-003-calico.js';
import { createLab } from './helpers/lab.js';
import { REPO } from './helpers/netns.js';

const HOST_PODS = `apiVersion: v1
kind: Pod
metadata: { name: sshd-like, namespace: default, labels: { app: sshd-like } }
spec:
  nodeName: node-1
  hostNetwork: true
  containers: [{ name: main, image: lab/pod-server, ports: [{ containerPort: 2222 }, { containerPort: 22 }] }]
`;

const service = (name: string, nodePort: number, etp: 'Cluster' | 'Local') => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: shop }
spec:
  type: NodePort
  externalTrafficPolicy: ${etp}
  selector: { app: web }
  ports: [{ port: 80, nodePort: ${nodePort} }]
`;

const DEFAULT_DENY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: default-deny, namespace: shop }
spec: { podSelector: {}, policyTypes: [Ingress] }
`;

const PARTNER_ONLY = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: nodeports-from-partner }
spec:
  order: 5
  preDNAT: true
  applyOnForward: true
  selector: has(host-endpoint)
  ingress:
    - action: Allow
      source: { nets: [203.0.113.0/24] }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: nodeports-closed }
spec:
  order: 6
  preDNAT: true
  applyOnForward: true
  selector: has(host-endpoint)
  ingress:
    - action: Deny
      protocol: TCP
      destination: { ports: ["30000:32767"] }
`;

/** Seed 003's three policies, as the seed writes them (its HostEndpoint comes from the agents here). */
function seedPolicies(): string {
  return seedYaml('unused')
    .split(/^---$/m)
    .filter((d) => !/kind:\s*HostEndpoint/.test(d))
    .join('---');
}

const verdicts = (rs: readonly PairResult[]) => rs.map((r) => `${r.from} -> ${r.to}: ${r.verdict}`);

const lab = createLab('ps03', {
  controlPlane: 'kubernetes',
  hostEndpointLabels: ['host-endpoint=ingress'],
  outsideAddresses: ['192.168.7.10/24'],
});

describe('seeds 003 and 002 on the real control plane', () => {
  before(async () => {
    await lab.up(2, join(REPO, 'examples', 'demo.yaml'));
    await lab.applyText(HOST_PODS);
  });
  after(async () => {
    await lab.down();
  });

  it('each node keeps a HostEndpoint with seed 003 label, default-allow: nothing is closed yet', async () => {
    const heps = (lab.snapshot().hostEndpoints ?? []).map((h) => [
      h.name,
      h.labels['host-endpoint'],
      h.interfaceName,
    ]);
    assert.deepEqual(heps, [
      ['node-1', 'ingress', '*'],
      ['node-2', 'ingress', '*'],
    ]);
    const r = await lab.probePairs(['outside', 'outside@192.168.7.10'], ['node-1:2222']);
    assert.deepEqual(verdicts(r), [
      'outside -> node-1:2222: connected',
      'outside@192.168.7.10 -> node-1:2222: connected',
    ]);
  });

  it('seed 003 applied unchanged with kubectl: SSH-like only from the allowed CIDR, failsafe SSH answers', async () => {
    const file = join(lab.fx.tmp, 'seed-003.yaml');
    writeFileSync(file, seedPolicies());
    await lab.palisade('lab', 'kubectl', 'apply', '-f', file);
    await lab.applyText(DEFAULT_DENY, 'delete').catch(() => undefined); // a lab apply: waits for every agent
    const r = await lab.probePairs(
      ['outside', 'outside@192.168.7.10', 'outside@203.0.113.10'],
      ['node-1:2222', 'node-1:22'],
    );
    assert.deepEqual(verdicts(r), [
      'outside -> node-1:2222: dropped',
      'outside -> node-1:22: connected',
      'outside@192.168.7.10 -> node-1:2222: connected',
      'outside@192.168.7.10 -> node-1:22: connected',
      'outside@203.0.113.10 -> node-1:2222: dropped',
      'outside@203.0.113.10 -> node-1:22: connected',
    ]);
    const api = await lab.probePairs(['node-1', 'node-2'], ['198.18.0.2:6443']);
    assert.deepEqual(verdicts(api), [
      'node-1 -> 198.18.0.2:6443: connected',
      'node-2 -> 198.18.0.2:6443: connected',
    ]);
    await lab.agrees('seed 003', [['TCP', 80]]);
  });

  it('seed 002: a default-deny NetworkPolicy closes the NodePort, either node, either externalTrafficPolicy', async () => {
    await lab.palisade('lab', 'kubectl', 'delete', 'globalnetworkpolicies.projectcalico.org', '--all');
    await lab.applyText(
      `${service('web-cluster', 30080, 'Cluster')}---\n${service('web-local', 30081, 'Local')}`,
    );
    const web = lab.snapshot().pods.find((p) => p.name === 'web')!.node;
    const targets = ['node-1:30080', 'node-2:30080', `${web}:30081`];
    // `lab apply` waits for the agents, not for kube-proxy: give it its moment to program the new Services.
    const want = targets.map((t) => `outside -> ${t}: connected`);
    let open = verdicts(await lab.probePairs(['outside'], targets));
    for (let i = 0; i < 40 && open.join() !== want.join(); i++) {
      await new Promise((r) => setTimeout(r, 250));
      open = verdicts(await lab.probePairs(['outside'], targets));
    }
    assert.deepEqual(open, want);
    await lab.applyText(DEFAULT_DENY);
    const closed = await lab.probePairs(['outside'], targets);
    assert.deepEqual(
      verdicts(closed),
      targets.map((t) => `outside -> ${t}: dropped`),
    );
    await lab.applyText(DEFAULT_DENY, 'delete');
    const again = await lab.probePairs(['outside'], targets);
    assert.deepEqual(
      verdicts(again),
      targets.map((t) => `outside -> ${t}: connected`),
    );
  });

  it('seed 002 with preDNAT: the NodePorts answer one CIDR only, ahead of kube-proxy', async () => {
    const file = join(lab.fx.tmp, 'partner.yaml');
    writeFileSync(file, PARTNER_ONLY);
    await lab.palisade('lab', 'apply', '-f', file);
    const r = await lab.probePairs(['outside', 'outside@203.0.113.10'], ['node-1:30080', 'node-2:30080']);
    assert.deepEqual(verdicts(r), [
      'outside -> node-1:30080: dropped',
      'outside -> node-2:30080: dropped',
      'outside@203.0.113.10 -> node-1:30080: connected',
      'outside@203.0.113.10 -> node-2:30080: connected',
    ]);
    await lab.agrees('preDNAT', [['TCP', 80]]);
  });
});
