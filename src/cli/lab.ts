// `palisade lab ...`: argument parsing and output only; the work is in src/lab.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { labDown, labProbe, labStatus, labUp } from '../lab/lab.js';
import { labAgent } from '../lab/lab-agents.js';
import { labApply, labDelete } from '../lab/lab-apply.js';
import type { LabDeps } from '../lab/lab-common.js';
import {
  labComponent,
  labExec,
  labHasControlPlane,
  labKubeApply,
  labKubeconfig,
  labKubectl,
  runLabKubelet,
} from '../lab/lab-kube-commands.js';
import { labProbePairs } from '../lab/lab-probe.js';
import { OutsideAddressError, planOutsideAddresses } from '../lab/outside.js';
import { MAX_PROBE_TIMEOUT_MS } from '../lab/pod-server-protocol.js';
import { matrixToJson, renderMatrixTable } from '../lab/probe.js';
import { renderPairsTable } from '../lab/probe-pairs.js';
import type { Protocol } from '../model/k8s.js';
import {
  calicoKindProblems,
  clusterNetworkPolicyProblems,
  type ManifestEntry,
  networkPolicyProblems,
  parseManifestEntries,
} from '../model/manifests.js';
import { UsageError } from './usage.js';

export const LAB_USAGE = `Usage: palisade lab <command> [options]

Commands:
  up      [--nodes N] [--control-plane dir|kubernetes] [--outside-address ADDR[/PREFIX]]...
          [--host-endpoint-label KEY=VALUE]... [--encryption off|wireguard|ipsec] [-f FILE]...
                                     create a lab (default 2 nodes) and apply manifests; kubernetes runs a
                                     real control plane (etcd, kube-apiserver, controller-manager, scheduler,
                                     kube-proxy on each node) built from the pinned release (kube/). The
                                     outside host (198.18.0.3, serving 80/443 TCP and 53/80 UDP) also holds
                                     198.18.0.4-6 and 203.0.113.10-11, and each --outside-address (beyond the
                                     underlay, its network, default /24, routed by the nodes via it);
                                     --host-endpoint-label (kubernetes) turns on the agents' HostEndpoint
                                     controller: each node keeps its HostEndpoint with these labels;
                                     --encryption wireguard|ipsec: pods' traffic between nodes goes only
                                     through WireGuard or IPsec (strict); pods get the underlay MTU less
                                     the tunnel's overhead
  apply   -f FILE...                 add or update namespaces, pods and policies (kubernetes: any kind the
                                     API serves, checked by a server-side dry run first)
  delete  -f FILE...                 remove what the files name
  probe   [--port P] [--protocol tcp|udp|sctp] [--timeout MS] [--json]
                                     reachability of every pod from every pod
  probe   --from SRC... --to DST... [--port P] [--protocol tcp|udp|sctp] [--timeout MS] [--json]
                                     each SRC probes each DST: connected (and which server answered: the
                                     pod, e.g. behind a NodePort, or "outside"), refused (RST, ICMP error)
                                     or dropped (silence until the timeout)
                                     SRC: NS/POD | NODE | outside | outside@ADDR (send from that address)
                                     DST: NS/POD | NODE | outside | outside@ADDR | ADDR, each with optional
                                     :PORT (e.g. node-1:30080)
  status  [--json]                   nodes and pods
  kubeconfig                         the path of an admin kubeconfig that works from this shell (kubernetes)
  kubectl ARGS...                    the pinned kubectl against the lab, ARGS passed unchanged (kubernetes)
  agent   stop|start NODE            stop or start a node's agent (and with it its tunnel), the rest running on
  component stop|start NAME          stop or start etcd, kube-apiserver, kube-controller-manager or
                                     kube-scheduler (kubernetes), to see the nodes without it
  exec    NODE|outside|NS/POD -- CMD...
                                     run CMD in that node's, the outside host's or that pod's network namespace
  down                               remove everything the lab made

Every command takes --dir D (default $PALISADE_LAB_DIR or /tmp/palisade-lab); kubectl and exec take the lab
from PALISADE_LAB_DIR only, so that every argument after them is theirs.`;

function defaultDir(): string {
  return process.env.PALISADE_LAB_DIR ?? '/tmp/palisade-lab';
}

/** apply/delete: through the API server with a control plane, else through the lab's directory. */
async function applyFiles(
  deps: LabDeps,
  dir: string,
  files: readonly string[],
  verb: 'apply' | 'delete',
): Promise<void> {
  if (files.length === 0) throw new UsageError('-f FILE is required');
  if (labHasControlPlane(dir)) {
    warnPolicyProblems(files);
    await labKubeApply(deps, dir, files, verb);
    return;
  }
  const entries = readManifests(files);
  await (verb === 'apply' ? labApply(deps, dir, entries) : labDelete(deps, dir, entries));
}

/** NetworkPolicies the agents will reject (they fail closed) get a warning; the API server judges the rest. */
function warnPolicyProblems(files: readonly string[]): void {
  let entries: ManifestEntry[];
  try {
    entries = files.flatMap((f) => parseManifestEntries(readFileSync(f === '-' ? 0 : f, 'utf8'), f));
  } catch (_err) {
    return; // documents the lab's own parser does not take: the API server's dry run reports them
  }
  warnProblems(entries);
}

/** Policies the agents will take as broken: each kind fails closed its own way (manifests.ts). */
function warnProblems(entries: readonly ManifestEntry[]): void {
  const objects = entries.map((e) => e.object);
  for (const p of networkPolicyProblems(objects)) {
    process.stderr.write(
      `palisade: warning: policy ${p} (applied; it fails closed: isolates what it selects, allows nothing)\n`,
    );
  }
  for (const p of clusterNetworkPolicyProblems(objects)) {
    process.stderr.write(
      `palisade: warning: ClusterNetworkPolicy ${p} (applied; it fails closed: its rules only deny)\n`,
    );
  }
  for (const p of calicoKindProblems(objects)) {
    process.stderr.write(`palisade: warning: ${p} (applied; it fails closed)\n`);
  }
}

function readManifests(files: readonly string[]): ManifestEntry[] {
  if (files.length === 0) throw new UsageError('-f FILE is required');
  const entries = files.flatMap((f) => parseManifestEntries(readFileSync(f === '-' ? 0 : f, 'utf8'), f));
  warnProblems(entries);
  return entries;
}

async function printStatus(dir: string, out: (s: string) => void): Promise<void> {
  const s = await labStatus(dir);
  out('NODE           UNDERLAY        POD CIDR\n');
  for (const n of s.nodes) out(`${n.name.padEnd(15)}${n.underlayIP.padEnd(16)}${n.podCIDR}\n`);
  for (const h of s.hosts ?? []) out(`${h.name.padEnd(15)}${h.underlayIP.padEnd(16)}-\n`);
  if (s.pods.length === 0) return;
  out('\nPOD                           NODE      IP             LABELS\n');
  for (const p of s.pods) {
    const labels = Object.entries(p.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    out(`${`${p.namespace}/${p.name}`.padEnd(30)}${p.node.padEnd(10)}${p.ip.padEnd(15)}${labels}\n`);
  }
}

const PROTOCOL_NAMES: Record<string, Protocol> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' };

export async function runLab(
  argv: readonly string[],
  deps: LabDeps,
  out: (s: string) => void,
): Promise<number> {
  const [command, ...rest] = argv;
  // These two pass what follows them on unchanged, so they parse no option of their own.
  if (command === 'kubectl') return labKubectl(defaultDir(), rest);
  if (command === 'exec') return labExec(defaultDir(), rest);
  const { values, positionals } = parseArgs({
    args: [...rest],
    allowPositionals: command === 'component' || command === 'agent',
    options: {
      dir: { type: 'string', default: defaultDir() },
      nodes: { type: 'string', default: '2' },
      file: { type: 'string', short: 'f', multiple: true, default: [] },
      port: { type: 'string', default: '80' },
      protocol: { type: 'string', default: 'tcp' },
      timeout: { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
      'control-plane': { type: 'string', default: 'dir' },
      'outside-address': { type: 'string', multiple: true, default: [] },
      'host-endpoint-label': { type: 'string', multiple: true },
      encryption: { type: 'string', default: 'off' },
      from: { type: 'string', multiple: true, default: [] },
      to: { type: 'string', multiple: true, default: [] },
      node: { type: 'string' },
    },
    strict: true,
  });
  const dir = values.dir;
  switch (command) {
    case 'up': {
      const nodes = Number(values.nodes);
      const controlPlane = values['control-plane'];
      if (controlPlane !== 'dir' && controlPlane !== 'kubernetes')
        throw new UsageError(`--control-plane: "${controlPlane}" must be dir or kubernetes`);
      const outsideAddresses = values['outside-address'];
      try {
        planOutsideAddresses(outsideAddresses);
      } catch (err) {
        if (err instanceof OutsideAddressError) throw new UsageError(err.message);
        throw err;
      }
      const hostEndpointLabels = values['host-endpoint-label'];
      for (const l of hostEndpointLabels ?? [])
        if (!/^[^=]+=[^=]*$/.test(l)) throw new UsageError(`--host-endpoint-label: "${l}" must be KEY=VALUE`);
      const encryption = values.encryption;
      if (encryption !== 'off' && encryption !== 'wireguard' && encryption !== 'ipsec')
        throw new UsageError(`--encryption: "${encryption}" must be off, wireguard or ipsec`);
      await labUp(deps, {
        dir,
        nodes,
        controlPlane,
        outsideAddresses,
        ...(hostEndpointLabels ? { hostEndpointLabels } : {}),
        ...(encryption !== 'off' ? { encryption } : {}),
      });
      if (values.file.length > 0) await applyFiles(deps, dir, values.file, 'apply');
      await printStatus(dir, out);
      return 0;
    }
    case 'apply':
    case 'delete':
      await applyFiles(deps, dir, values.file, command);
      return 0;
    case 'status':
      if (values.json) out(`${JSON.stringify(await labStatus(dir))}\n`);
      else await printStatus(dir, out);
      return 0;
    case 'kubeconfig':
      out(`${labKubeconfig(dir)}\n`);
      return 0;
    case 'agent': {
      const [action, node] = positionals;
      if (!action || !node) throw new UsageError('agent: stop|start NODE');
      await labAgent(dir, action, node, deps.cliEntry);
      return 0;
    }
    case 'component': {
      const [action, name] = positionals;
      if (!action || !name) throw new UsageError('component: stop|start NAME');
      await labComponent(dir, action, name);
      return 0;
    }
    case 'kubelet': {
      if (!values.node) throw new UsageError('kubelet: --node is required');
      await runLabKubelet(deps, dir, values.node);
      return 0;
    }
    case 'probe': {
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new UsageError(`--port: "${values.port}" must be 1-65535`);
      const protocol = PROTOCOL_NAMES[values.protocol.toLowerCase()];
      if (!protocol) throw new UsageError(`--protocol: "${values.protocol}" must be tcp, udp or sctp`);
      const timeoutMs = Number(values.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_PROBE_TIMEOUT_MS)
        throw new UsageError(`--timeout: "${values.timeout}" must be 1-${MAX_PROBE_TIMEOUT_MS} (ms)`);
      if (values.from.length > 0 || values.to.length > 0) {
        if (values.from.length === 0 || values.to.length === 0)
          throw new UsageError('probe: --from and --to go together (or neither, for every pod to every pod)');
        const pairs = await labProbePairs(dir, {
          from: values.from,
          to: values.to,
          port,
          protocol,
          timeoutMs,
        });
        out(values.json ? `${JSON.stringify(pairs)}\n` : renderPairsTable(pairs.results));
        return 0;
      }
      const matrix = await labProbe(dir, { port, protocol, timeoutMs });
      if (values.json) out(`${JSON.stringify(matrixToJson({ port, protocol }, matrix))}\n`);
      else out(`${renderMatrixTable(matrix)}\n`);
      return 0;
    }
    case 'down':
      await labDown(deps, dir);
      return 0;
    default:
      throw new UsageError(command ? `unknown lab command "${command}"` : 'a lab command is required');
  }
}
