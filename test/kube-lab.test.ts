// The lab on a real Kubernetes control plane (kube/: etcd, kube-apiserver, controller-manager, scheduler and
// kube-proxy of the pinned release). What only the real thing can show: node registration and node IPAM, the
// agents reading the API as the manifests' ServiceAccount, controllers' pods, Services through kube-proxy,
// server-side validation, Warning Events, and the agents riding out an API server outage and an etcd
// compaction under their watches.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REDIRECT_TABLE } from '../src/chained/redirect-rules.js';
import {
  addNetworkList,
  delNetworkList,
  execPlugin,
  loadNetworkList,
  PluginError,
} from '../src/cni/invoke.js';
import { pluginKubeconfig } from '../src/install/cni-conf.js';
import { compactEtcd } from './helpers/kube-api.js';
import { createLab, matrixDiff } from './helpers/lab.js';
import { REPO, runner } from './helpers/netns.js';

const run = promisify(execFile);
const lab = createLab('plc', { controlPlane: 'kubernetes', timeoutMs: 500 });
const DEMO = join(REPO, 'examples', 'demo.yaml');
const DENY_SHOP = join(REPO, 'examples', 'policies', 'default-deny-shop.yaml');
const AGENT = 'system:serviceaccount:palisade-system:palisade';

interface LabJson {
  plan: { prefix: string; nodes: { name: string; netns: string; underlayIP: string; podCIDR: string }[] };
  agents: Record<string, number>;
  kube: {
    controlPlane: { bin: string; pids: Record<string, number> };
    hosts: { name: string; netns: string; ip: string }[];
  };
}
const state = () => JSON.parse(readFileSync(join(lab.dir, 'lab.json'), 'utf8')) as LabJson;

async function kubectl(...args: string[]): Promise<string> {
  return lab.palisade('lab', 'kubectl', ...args);
}

async function kubectlJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await kubectl(...args, '-o', 'json')) as T;
}

/** A command in a lab network namespace (`lab exec`); its stdout, or '' when it fails. */
async function execIn(target: string, script: string): Promise<string> {
  return lab.palisade('lab', 'exec', target, '--', 'sh', '-c', script).catch(() => '');
}

async function writeTemp(name: string, text: string): Promise<string> {
  const path = join(lab.fx.tmp, name);
  writeFileSync(path, text);
  return path;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

before(async () => {
  await lab.up(2, DEMO);
});
after(async () => {
  // An agent stopped by a failed test must not outlive it.
  for (const pid of Object.values(state().agents)) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch (_err) {
      // gone already
    }
  }
  await lab.down();
});

describe('the lab on a real control plane', () => {
  it('registers each node through its kubelet: Ready, labelled, a Lease, the planned pod CIDR held by node IPAM', async () => {
    const nodes = await kubectlJson<{
      items: {
        metadata: { name: string; labels: Record<string, string> };
        spec: { podCIDR?: string; taints?: unknown[] };
        status: {
          addresses: { type: string; address: string }[];
          conditions: { type: string; status: string }[];
        };
      }[];
    }>('get', 'nodes');
    const planned = state().plan.nodes;
    assert.deepEqual(
      nodes.items.map((n) => [n.metadata.name, n.spec.podCIDR]),
      planned.map((n) => [n.name, n.podCIDR]),
    );
    assert.deepEqual(
      planned.map((n) => n.podCIDR),
      ['10.244.0.0/24', '10.244.1.0/24'],
    );
    for (const n of nodes.items) {
      const plan = planned.find((p) => p.name === n.metadata.name)!;
      assert.equal(n.metadata.labels['kubernetes.io/hostname'], plan.name);
      assert.equal(n.metadata.labels['kubernetes.io/os'], 'linux');
      assert.deepEqual(
        n.status.addresses.find((a) => a.type === 'InternalIP'),
        { type: 'InternalIP', address: plan.underlayIP },
      );
      assert.ok(n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
      assert.deepEqual(n.spec.taints ?? [], []);
    }
    const leases = await kubectlJson<{
      items: { metadata: { name: string }; spec: { renewTime: string } }[];
    }>('get', 'leases', '-n', 'kube-node-lease');
    for (const n of planned) {
      const lease = leases.items.find((l) => l.metadata.name === n.name);
      assert.ok(lease, `lease of ${n.name}`);
      assert.ok(Date.now() - Date.parse(lease.spec.renewTime) < 30_000, `lease of ${n.name} renewed lately`);
    }
    // Node IPAM holds the planned CIDRs: a Node registered without one gets a /24 none of them has.
    const extra = await writeTemp(
      'ipam-node.yaml',
      'apiVersion: v1\nkind: Node\nmetadata: { name: ipam-probe }\n',
    );
    await kubectl('create', '-f', extra);
    try {
      const cidr = await waitFor('spec.podCIDR of Node ipam-probe', async () => {
        const n = await kubectlJson<{ spec: { podCIDR?: string } }>('get', 'node', 'ipam-probe');
        return n.spec.podCIDR;
      });
      assert.match(cidr, /^10\.244\.\d+\.0\/24$/);
      assert.ok(!planned.some((n) => n.podCIDR === cidr), `${cidr} is not a lab node's`);
    } finally {
      await kubectl('delete', 'node', 'ipam-probe', '--wait=false');
    }
  });

  it('runs each pod as the API has it: status Running with the address the CNI plugin gave', async () => {
    const pods = await kubectlJson<{
      items: {
        metadata: { namespace: string; name: string };
        spec: { nodeName: string };
        status: { phase: string; podIP: string; hostIP: string };
      }[];
    }>('get', 'pods', '-A');
    assert.equal(pods.items.length, 6);
    const byName = new Map(state().plan.nodes.map((n) => [n.name, n]));
    for (const p of pods.items) {
      const node = byName.get(p.spec.nodeName)!;
      assert.equal(p.status.phase, 'Running');
      assert.equal(p.status.hostIP, node.underlayIP);
      const prefix = node.podCIDR.split('.').slice(0, 3).join('.');
      assert.ok(
        p.status.podIP.startsWith(`${prefix}.`),
        `${p.metadata.name} ${p.status.podIP} in ${node.podCIDR}`,
      );
    }
    await lab.agrees('demo, no policy', [['TCP', 80]]);
  });

  it('gives the machine shell an admin kubeconfig on loopback, and the pinned kubectl', async () => {
    const path = (await lab.palisade('lab', 'kubeconfig')).trim();
    const kc = JSON.parse(readFileSync(path, 'utf8')) as { clusters: { cluster: { server: string } }[] };
    assert.match(kc.clusters[0]!.cluster.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    const { stdout } = await run(
      join(state().kube.controlPlane.bin, 'kubectl'),
      ['get', 'ns', '-o', 'name'],
      {
        env: { ...process.env, KUBECONFIG: path },
      },
    );
    assert.match(stdout, /namespace\/shop/);
    assert.match(await kubectl('version'), /Server Version: v1\.37\.2/);
  });

  it('runs the agents as the ServiceAccount of `palisade manifests`, which grants no more than they need', async () => {
    const can = async (verb: string, resource: string) =>
      (await kubectl('auth', 'can-i', verb, resource, '-A', `--as=${AGENT}`).catch(() => 'no')).trim();
    assert.equal(await can('watch', 'networkpolicies.networking.k8s.io'), 'yes');
    assert.equal(await can('list', 'pods'), 'yes');
    assert.equal(await can('create', 'events'), 'yes');
    assert.equal(await can('get', 'secrets'), 'no');
    assert.equal(await can('create', 'pods'), 'no');
    assert.equal(await can('delete', 'networkpolicies.networking.k8s.io'), 'no');
    const kubeconfig = readFileSync(join(lab.dir, 'kube', 'palisade-agent.kubeconfig'), 'utf8');
    assert.doesNotMatch(kubeconfig, /client-certificate|client-key/);
    assert.match(kubeconfig, /tokenFile/);
  });

  it('runs a Deployment and a NodePort Service through the real kube-proxy, and policy covers both', async () => {
    const store = `apiVersion: v1
kind: Namespace
metadata: { name: store }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: front, namespace: store }
spec:
  replicas: 3
  selector: { matchLabels: { app: front } }
  template:
    metadata: { labels: { app: front } }
    spec:
      containers:
        - name: front
          image: lab/pod-server
          ports: [{ name: http, containerPort: 80 }]
---
apiVersion: v1
kind: Service
metadata: { name: front, namespace: store }
spec:
  type: NodePort
  selector: { app: front }
  ports: [{ port: 8080, targetPort: http, nodePort: 30080 }]
`;
    await lab.applyText(store);
    const status = JSON.parse(await lab.palisade('lab', 'status', '--json')) as {
      pods: { namespace: string; name: string; ip: string }[];
    };
    const front = status.pods.filter((p) => p.namespace === 'store');
    assert.equal(front.length, 3, 'the ReplicaSet controller made three pods, the kubelets run them');
    await lab.agrees('with the deployment', [['TCP', 80]]);
    const clusterIP = (
      await kubectl('get', 'svc', 'front', '-n', 'store', '-o', 'jsonpath={.spec.clusterIP}')
    ).trim();
    assert.match(clusterIP, /^10\.96\./);
    const viaService = await execIn('shop/web', `echo | nc -w1 ${clusterIP} 8080`);
    assert.match(viaService, /^store\/front-/, 'ClusterIP reaches a front pod');
    const [n1, n2] = state().plan.nodes;
    for (const node of [n1!, n2!]) {
      assert.match(await execIn('outside', `echo | nc -w1 ${node.underlayIP} 30080`), /^store\/front-/);
    }
    // A default deny in the Service's namespace closes the NodePort and the ClusterIP; deleting it opens them.
    const deny = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: default-deny, namespace: store }
spec: { podSelector: {} }
`;
    await lab.applyText(deny);
    assert.equal(await execIn('outside', `echo | nc -w1 ${n1!.underlayIP} 30080`), '');
    assert.equal(await execIn('shop/web', `echo | nc -w1 ${clusterIP} 8080`), '');
    await lab.applyText(deny, 'delete');
    assert.match(await execIn('outside', `echo | nc -w1 ${n1!.underlayIP} 30080`), /^store\/front-/);
  });

  it('runs a hostNetwork pod in its node netns, with the node address and no CNI call', async () => {
    const palLinks = async () =>
      (await lab.palisade('lab', 'exec', 'node-2', '--', 'ip', '-o', 'link'))
        .split('\n')
        .filter((l) => / pal/.test(l)).length;
    const before = await palLinks();
    const pod = `apiVersion: v1
kind: Pod
metadata: { name: host-agent, namespace: default }
spec:
  nodeName: node-2
  hostNetwork: true
  containers: [{ name: main, image: lab/pod-server, ports: [{ containerPort: 8081 }] }]
`;
    await lab.applyText(pod);
    const node = state().plan.nodes[1]!;
    const ip = (await kubectl('get', 'pod', 'host-agent', '-o', 'jsonpath={.status.podIP}')).trim();
    assert.equal(ip, node.underlayIP);
    assert.match(await execIn('outside', `echo | nc -w1 ${node.underlayIP} 8081`), /^default\/host-agent/);
    assert.equal(await palLinks(), before, 'no pod veth was made');
    await lab.applyText(pod, 'delete');
    assert.equal(await execIn('outside', `echo | nc -w1 ${node.underlayIP} 8081`), '');
  });

  it('checks every document with a server-side dry run first: one the server rejects changes nothing', async () => {
    const text = `apiVersion: v1
kind: Namespace
metadata: { name: ghost }
---
apiVersion: v1
kind: Pod
metadata: { name: a, namespace: ghost }
spec: { nodeName: node-1, containers: [{ name: a, image: lab/pod-server }] }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: bad, namespace: ghost }
spec:
  podSelector: {}
  ingress: [{ ports: [{ port: 70000 }] }]
`;
    const err = await lab.applyText(text).then(
      () => assert.fail('the apply must be refused'),
      (e: unknown) => String((e as { stderr?: string }).stderr ?? e),
    );
    assert.match(err, /nothing was applied/);
    assert.match(err, /NetworkPolicy/);
    assert.match(err, /"bad"/);
    assert.match(err, /70000/);
    const pods = await kubectl('get', 'pods', '-n', 'ghost', '-o', 'name');
    assert.equal(pods.trim(), '', 'no pod of the refused apply exists');
    const ns = await kubectlJson<{ items: { metadata: { name: string; deletionTimestamp?: string } }[] }>(
      'get',
      'namespaces',
    );
    const ghost = ns.items.find((n) => n.metadata.name === 'ghost');
    assert.ok(!ghost || ghost.metadata.deletionTimestamp, 'the namespace made for the check is removed');
  });

  it('a policy the API server accepts but the agents reject gets a Warning Event and fails closed', async () => {
    const text = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: twice, namespace: billing }
spec:
  podSelector: { matchLabels: { app: api } }
  policyTypes: [Ingress, Ingress]
  ingress: [{}]
`;
    await lab.applyText(text);
    const events = await waitFor('a PolicyRejected event', async () => {
      const list = await kubectlJson<{ items: { type: string; reason: string; message: string }[] }>(
        'get',
        'events',
        '-n',
        'billing',
        '--field-selector',
        'reason=PolicyRejected,involvedObject.name=twice',
      );
      return list.items.length > 0 ? list.items : undefined;
    });
    assert.equal(events[0]!.type, 'Warning');
    assert.match(events[0]!.message, /policyTypes/);
    assert.match(events[0]!.message, /fails closed/);
    const m = await lab.probe('TCP', 80);
    // Every other pod is cut off from it (its own connections to itself stay on its loopback).
    const reach = Object.entries(m)
      .filter(([src, row]) => src !== 'billing/api' && row['billing/api'] !== false)
      .map(([src]) => src);
    assert.ok(Object.keys(m).length > 1, 'probed');
    assert.deepEqual(reach, [], 'billing/api is isolated');
    await lab.applyText(text, 'delete');
  });

  it('chained mode learns the pod from the real API server when the agent is away', async () => {
    // The pod exists in the API, bound to a node no kubelet serves: the plugin is invoked here, as a runtime
    // on that node would, with no agent answering and install-cni's kubeconfig for the agents' ServiceAccount.
    await kubectl(
      'apply',
      '-f',
      await writeTemp(
        'mesh.yaml',
        `apiVersion: v1
kind: Namespace
metadata: { name: mesh, labels: { codesealer.com/webhook: enabled } }
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: mesh
  annotations: { sidecar.codesealer.com/status: injected, codesealer.com/dport: "8080" }
spec:
  nodeName: chained-node
  containers:
    - { name: web, image: lab/pod-server, ports: [{ containerPort: 8080 }] }
    - { name: codesealer-core, image: lab/pod-server }
`,
      ),
    );
    const s = state();
    const cp = s.kube.hosts.find((h) => h.name === 'control-plane')!;
    const kubeconfig = await writeTemp(
      'plugin.kubeconfig',
      pluginKubeconfig({
        server: `https://${cp.ip}:6443`,
        caPem: readFileSync(join(lab.dir, 'kube', 'pki', 'ca.crt'), 'utf8'),
        token: readFileSync(join(lab.dir, 'kube', 'agent.token'), 'utf8').trim(),
      }),
    );
    const netns = await lab.fx.netns('meshweb');
    const node = s.plan.nodes[0]!;
    await execPlugin(runner, {
      command: 'ADD',
      conf: {
        cniVersion: '1.0.0',
        name: 'chain',
        type: 'palisade-cni',
        mode: 'redirect',
        agentSocket: join(lab.fx.tmp, 'no-agent.sock'),
        agentTimeoutMs: 500,
        kubeconfig,
        markerDir: join(lab.fx.tmp, 'markers'),
        prevResult: { cniVersion: '1.0.0', interfaces: [], ips: [] },
      },
      rt: {
        containerID: 'c'.repeat(64),
        netns,
        ifname: 'eth0',
        args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'mesh', K8S_POD_NAME: 'web' },
        binDirs: [join(REPO, 'dist')],
        hostNetns: `/run/netns/${node.netns}`,
        cacheDir: join(lab.fx.tmp, 'cni-cache'),
      },
    });
    const { stdout } = await runner.run(['nft', 'list', 'table', 'inet', REDIRECT_TABLE], { netns });
    assert.match(stdout, /tcp dport 8080 .*redirect to :15006/);
    await kubectl('delete', 'namespace', 'mesh', '--wait=false');
  });

  it('API server down: the agents keep enforcing and the CNI gate refuses unknown pods; back up: they converge', async () => {
    await lab.palisade('lab', 'apply', '-f', DENY_SHOP);
    const want = lab.expected('TCP', 80);
    assert.deepEqual(matrixDiff(await lab.probe('TCP', 80), want), []);
    await lab.palisade('lab', 'component', 'stop', 'kube-apiserver');
    try {
      assert.deepEqual(
        matrixDiff(await lab.probe('TCP', 80), want),
        [],
        'enforcing the last programmed state',
      );
      // A pod the agent has never heard of is refused, not wired unprotected.
      const node = state().plan.nodes[0]!;
      const netns = await lab.fx.netns('ghostpod');
      const nodeDir = join(lab.dir, 'nodes', node.name);
      const rt = {
        containerID: 'f'.repeat(64),
        netns,
        ifname: 'eth0',
        args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'shop', K8S_POD_NAME: 'unknown' },
        binDirs: [join(nodeDir, 'opt/cni/bin')],
        hostNetns: `/run/netns/${node.netns}`,
        cacheDir: join(lab.fx.tmp, 'cni-results'),
      };
      const list = loadNetworkList(join(nodeDir, 'etc/cni/net.d'));
      await assert.rejects(
        addNetworkList(runner, list, rt),
        (e: unknown) => e instanceof PluginError && e.code === 11 && /pod not wired/.test(e.msg),
      );
      await delNetworkList(runner, list, rt);
    } finally {
      await lab.palisade('lab', 'component', 'start', 'kube-apiserver');
    }
    await lab.palisade('lab', 'delete', '-f', DENY_SHOP);
    await lab.agrees('after the outage, the deny deleted', [['TCP', 80]]);
  });

  it('etcd compacted under a stopped agent: its watch answers 410, it lists again and converges', async () => {
    const s = state();
    const agent = s.agents['node-1']!;
    const log = join(lab.dir, 'nodes', 'node-1', 'agent.log');
    const before = readFileSync(log, 'utf8').length;
    process.kill(agent, 'SIGSTOP');
    try {
      // The agent misses an API server restart, a policy, and every revision it knew of is compacted away.
      await lab.palisade('lab', 'component', 'stop', 'kube-apiserver');
      await lab.palisade('lab', 'component', 'start', 'kube-apiserver');
      await kubectl('apply', '-f', DENY_SHOP);
      const cp = s.kube.hosts.find((h) => h.name === 'control-plane')!;
      await compactEtcd(cp.netns, kubectl);
    } finally {
      process.kill(agent, 'SIGCONT');
    }
    // lab apply returns once every agent (node-1's included) has programmed what the API holds.
    await lab.palisade('lab', 'apply', '-f', DENY_SHOP);
    await lab.agrees('after the compaction', [['TCP', 80]]);
    const since = readFileSync(log, 'utf8').slice(before);
    assert.match(since, /relisting|resource version too old|expired/i, 'the agent had to list again');
    await lab.palisade('lab', 'delete', '-f', DENY_SHOP);
  });
});
