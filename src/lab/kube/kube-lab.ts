// `lab up --control-plane kubernetes` and its teardown: the lab's nodes on a real control plane. The
// control plane and an `outside` client sit on the underlay beside the nodes; each node runs the lab's
// kubelet, kube-proxy (nftables mode) and the palisade agent, which reads the API as the ServiceAccount that
// `palisade manifests` creates (never as admin: the lab proves the generated RBAC is enough).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { startDetached } from '../../dataplane/runner.js';
import { createKubeRest, HttpMethod } from '../../datastore/kube-rest.js';
import { IPSEC_SECRET, parseValues, renderManifests } from '../../deploy/manifests.js';
import { formatCidr } from '../../model/cidr.js';
import { agentPaths, waitForAgent } from '../agents.js';
import { labPsk, startLabAgent } from '../lab-agents.js';
import type { LabDeps } from '../lab-common.js';
import { nodePaths, writeNodeFiles } from '../node-files.js';
import {
  CLUSTER_POD_CIDR,
  hostScript,
  type LabPlan,
  type NodePlan,
  nodeRoutesScript,
  switchScript,
} from '../plan.js';
import { stopProcess } from '../processes.js';
import { type KubeLabState, type LabEncryption, type LabState, saveState } from '../state.js';
import { kubeBinaries } from './binaries.js';
import {
  type ControlPlaneState,
  startControlPlane,
  stopControlPlane,
  writeAgentKubeconfig,
} from './control-plane.js';
import { kubectl } from './kubectl.js';
import { loadSandboxes } from './kubelet.js';
import {
  AGENT_NAMESPACE,
  AGENT_SERVICE_ACCOUNT,
  type HostPlan,
  hostPlans,
  type KubePaths,
  kubePaths,
  kubeProxyConfig,
} from './plan.js';

/** How long the agents' ServiceAccount token lives; the agents re-read its file every minute. */
const AGENT_TOKEN_DURATION = '48h';

/** Creates the underlay: the switch, the nodes' uplinks (no pod routes yet) and the extra hosts. */
export async function wireUnderlay(deps: LabDeps, plan: LabPlan, hosts: readonly HostPlan[]): Promise<void> {
  for (const ns of [plan.switchNetns, ...plan.nodes.map((n) => n.netns), ...hosts.map((h) => h.netns)]) {
    await deps.runner.run(['ip', 'netns', 'add', ns]);
  }
  await deps.runner.run(['ip', '-batch', '-'], {
    netns: `/run/netns/${plan.switchNetns}`,
    input: switchScript(plan, hosts),
  });
  for (const m of [...plan.nodes.map((n) => ({ ...n, ip: n.underlayIP })), ...hosts]) {
    await deps.runner.run(['ip', '-batch', '-'], {
      netns: `/run/netns/${m.netns}`,
      input: hostScript(plan, m),
    });
  }
  for (const node of plan.nodes) {
    await deps.runner.run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns: `/run/netns/${node.netns}` });
  }
}

/** What the agents need from `palisade manifests`: Namespace, ServiceAccount, RBAC, CRDs (no DaemonSet). */
function agentManifests(
  hostEndpointLabels: readonly string[] | undefined,
  encryption: LabEncryption | undefined,
): string {
  const labels = Object.fromEntries(
    (hostEndpointLabels ?? []).map((l) => l.split('=', 2) as [string, string]),
  );
  const values = parseValues({
    mode: 'main',
    namespace: AGENT_NAMESPACE,
    ...(hostEndpointLabels ? { hostEndpointController: true, hostEndpointLabels: labels } : {}),
    ...(encryption ? { encryption } : {}),
  });
  if ('errors' in values) throw new Error(values.errors.join('; '));
  return renderManifests(values)
    .filter((o) => o.kind !== 'DaemonSet')
    .map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false }))
    .join('---\n');
}

function nodeProcess(
  labDir: string,
  paths: KubePaths,
  node: NodePlan,
  name: string,
  argv: readonly string[],
): number {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.KUBECONFIG;
  return startDetached(['nsenter', `--net=/run/netns/${node.netns}`, ...argv], {
    logFile: join(paths.logs, `${name}-${node.name}.log`),
    env: { ...env, PALISADE_LAB_DIR: labDir, PALISADE_LOG_LEVEL: process.env.PALISADE_LOG_LEVEL ?? 'info' },
  });
}

interface NodeItem {
  metadata: { name: string };
  spec?: { podCIDR?: string; taints?: unknown[] };
  status?: { conditions?: { type: string; status: string }[] };
}

/** Polls the Node objects until each of `nodes` passes `accept`; returns them by name. */
async function waitForNodes(
  paths: KubePaths,
  nodes: readonly NodePlan[],
  what: string,
  accept: (n: NodeItem) => boolean,
): Promise<Map<string, NodeItem>> {
  const api = createKubeRest(paths.adminKubeconfig);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const list = await api.request({ method: HttpMethod.GET, path: '/api/v1/nodes' });
    const ok = new Map(
      ((list.items ?? []) as NodeItem[]).filter(accept).map((n) => [n.metadata.name, n] as const),
    );
    if (nodes.every((n) => ok.has(n.name))) return ok;
    if (Date.now() > deadline) {
      const missing = nodes.filter((n) => !ok.has(n.name)).map((n) => n.name);
      throw new Error(`nodes ${what} after 60 s: ${missing.join(', ')} (see kube/logs)`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Brings up a lab whose underlay and namespaces `state` already describes (the switch and nodes exist) on a
 * real control plane. Saves the state as each process starts, so a failure half-way can be torn down.
 */
export async function kubeLabUp(deps: LabDeps, state: LabState): Promise<LabState> {
  const paths = kubePaths(state.dir);
  const hosts = hostPlans(state.plan.prefix);
  const cp = hosts.find((h) => h.name === 'control-plane')!;
  const bin = await kubeBinaries(deps.runner, deps.log, deps.kubeBuildScript);
  const t0 = Date.now();
  const controlPlane = await startControlPlane(deps, { paths, cp, nodes: state.plan.nodes, bin });
  let kube: KubeLabState = { hosts, controlPlane, kubelets: {}, proxies: {} };
  saveState({ ...state, kube });
  const tool = { bin, paths };
  await kubectl(
    deps.runner,
    tool,
    ['apply', '-f', '-'],
    agentManifests(state.hostEndpointLabels, state.encryption),
  );
  // IPsec's pre-shared key as the cluster's admin keeps it: a Secret (the lab's kubelets give it to the agents
  // as the Secret volume of the DaemonSet would, lab-agents.ts).
  if (state.encryption === 'ipsec')
    await kubectl(deps.runner, tool, [
      'create',
      'secret',
      'generic',
      IPSEC_SECRET,
      '-n',
      AGENT_NAMESPACE,
      `--from-file=psk=${labPsk(state.dir)}`,
    ]);
  // The CRDs (ClusterNetworkPolicy among them) served before any agent lists: one that starts first finds the
  // resource not served and looks again only on its backoff.
  await kubectl(deps.runner, tool, [
    'wait',
    '--for=condition=Established',
    'crd',
    '-l',
    'app.kubernetes.io/name=palisade',
    '--timeout=60s',
  ]);
  const token = await kubectl(deps.runner, tool, [
    'create',
    'token',
    AGENT_SERVICE_ACCOUNT,
    '-n',
    AGENT_NAMESPACE,
    `--duration=${AGENT_TOKEN_DURATION}`,
  ]);
  writeFileSync(paths.agentToken, token.stdout.trim(), { mode: 0o600 });
  writeAgentKubeconfig(paths, cp); // the path startLabAgent gives the agents

  // Each kubelet registers its Node with the plan's pod CIDR (see nodeObject), which node IPAM occupies. The lab
  // follows what the API says all the same.
  const kubelets: Record<string, number> = {};
  for (const node of state.plan.nodes) {
    kubelets[node.name] = nodeProcess(state.dir, paths, node, 'kubelet', [
      process.execPath,
      deps.cliEntry,
      'lab',
      'kubelet',
      '--dir',
      state.dir,
      '--node',
      node.name,
    ]);
    kube = { ...kube, kubelets: { ...kubelets } };
    saveState({ ...state, kube });
  }
  const registered = await waitForNodes(paths, state.plan.nodes, 'without spec.podCIDR', (n) =>
    Boolean(n.spec?.podCIDR),
  );
  const cidrs = new Map<string, string>();
  for (const node of state.plan.nodes) {
    const got = registered.get(node.name)!.spec!.podCIDR!;
    if (got !== node.podCIDR)
      deps.log.warn({ node: node.name, planned: node.podCIDR, got }, 'pod CIDR differs from the plan');
    cidrs.set(node.name, got);
  }

  // The node's routes and CNI config follow the pod CIDR node IPAM gave it.
  const plan: LabPlan = {
    ...state.plan,
    nodes: state.plan.nodes.map((n) => ({ ...n, podCIDR: cidrs.get(n.name)! })),
  };
  for (const node of plan.nodes) {
    await deps.runner.run(['ip', '-batch', '-'], {
      netns: `/run/netns/${node.netns}`,
      input: nodeRoutesScript(plan, node),
    });
  }
  const proxies: Record<string, number> = {};
  const agents: Record<string, number> = {};
  // Saved after every start: a failure half-way tears down exactly what runs.
  const save = (): LabState => {
    const next: LabState = {
      ...state,
      plan,
      agents: { ...agents },
      kube: { ...kube, proxies: { ...proxies } },
    };
    saveState(next);
    return next;
  };
  for (const node of plan.nodes) {
    const config = paths.kubeProxyConfig(node.name);
    writeFileSync(
      config,
      `${JSON.stringify(kubeProxyConfig(paths, node.name, formatCidr(CLUSTER_POD_CIDR)))}\n`,
    );
    mkdirSync(dirname(nodePaths(state.dir, node.name).cniSocket), { recursive: true });
    proxies[node.name] = nodeProcess(state.dir, paths, node, 'kube-proxy', [
      join(bin, 'kube-proxy'),
      `--config=${config}`,
    ]);
    save();
    agents[node.name] = startLabAgent(save(), node.name, deps.cliEntry);
    save();
  }
  const next = save();
  await Promise.all(
    plan.nodes.map((n) => waitForAgent(agentPaths(state.dir, n.name).statusSocket, 1, 60_000)),
  );
  // The CNI config last: the kubelets report their nodes Ready once it exists, and pods get scheduled.
  for (const node of plan.nodes) writeNodeFiles(state.dir, node, deps, state.encryption);
  await waitForNodes(
    paths,
    plan.nodes,
    'not Ready and untainted',
    (n) =>
      (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') &&
      (n.spec?.taints ?? []).length === 0,
  );
  deps.log.info({ ms: Date.now() - t0 }, 'control plane and nodes ready');
  return next;
}

/** Stops the kubelets, kube-proxies and the control plane; the caller stops the agents and removes pods. */
export async function stopKubeProcesses(dir: string, kube: KubeLabState): Promise<void> {
  const paths = kubePaths(dir);
  for (const pid of [...Object.values(kube.kubelets), ...Object.values(kube.proxies)]) {
    await stopProcess(pid, dir);
  }
  await stopControlPlane(paths, kube.controlPlane as ControlPlaneState);
}

/** The sandboxes every node's kubelet runs: what teardown must stop and unwire. */
export function kubeSandboxes(state: LabState) {
  return state.plan.nodes.flatMap((n) => Object.values(loadSandboxes(state.dir, n.name)));
}
