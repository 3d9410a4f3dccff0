// `palisade lab ...`: argument parsing and output only; the work is in src/lab.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { labDown, labProbe, labStatus, labUp } from '../lab/lab.js';
import { labApply, labDelete } from '../lab/lab-apply.js';
import type { LabDeps } from '../lab/lab-common.js';
import { matrixToJson, renderMatrixTable } from '../lab/probe.js';
import type { Protocol } from '../model/k8s.js';
import { type ManifestEntry, networkPolicyProblems, parseManifestEntries } from '../model/manifests.js';
import { UsageError } from './usage.js';

export const LAB_USAGE = `Usage: palisade lab <command> [options]

Commands:
  up      [--nodes N] [-f FILE]...   create a lab (default 2 nodes) and apply manifests
  apply   -f FILE...                 add or update namespaces and pods
  delete  -f FILE...                 remove the pods and namespaces named in the files
  probe   [--port P] [--protocol tcp|udp|sctp] [--timeout MS] [--json]
                                     reachability of every pod from every pod
  status  [--json]                   nodes and pods
  down                               remove everything the lab made

Every command takes --dir D (default $PALISADE_LAB_DIR or /tmp/palisade-lab).`;

function defaultDir(): string {
  return process.env.PALISADE_LAB_DIR ?? '/tmp/palisade-lab';
}

function readManifests(files: readonly string[]): ManifestEntry[] {
  if (files.length === 0) throw new UsageError('-f FILE is required');
  const entries = files.flatMap((f) => parseManifestEntries(readFileSync(f === '-' ? 0 : f, 'utf8'), f));
  for (const p of networkPolicyProblems(entries.map((e) => e.object))) {
    process.stderr.write(
      `palisade: warning: policy ${p} (applied; it fails closed: isolates what it selects, allows nothing)\n`,
    );
  }
  return entries;
}

function printStatus(dir: string, out: (s: string) => void): void {
  const s = labStatus(dir);
  out('NODE      UNDERLAY        POD CIDR\n');
  for (const n of s.nodes) out(`${n.name.padEnd(10)}${n.underlayIP.padEnd(16)}${n.podCIDR}\n`);
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
  const { values } = parseArgs({
    args: [...rest],
    options: {
      dir: { type: 'string', default: defaultDir() },
      nodes: { type: 'string', default: '2' },
      file: { type: 'string', short: 'f', multiple: true, default: [] },
      port: { type: 'string', default: '80' },
      protocol: { type: 'string', default: 'tcp' },
      timeout: { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const dir = values.dir;
  switch (command) {
    case 'up': {
      const nodes = Number(values.nodes);
      await labUp(deps, { dir, nodes });
      if (values.file.length > 0) await labApply(deps, dir, readManifests(values.file));
      printStatus(dir, out);
      return 0;
    }
    case 'apply':
      await labApply(deps, dir, readManifests(values.file));
      return 0;
    case 'delete':
      await labDelete(deps, dir, readManifests(values.file));
      return 0;
    case 'status':
      if (values.json) out(`${JSON.stringify(labStatus(dir))}\n`);
      else printStatus(dir, out);
      return 0;
    case 'probe': {
      const port = Number(values.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new UsageError(`--port: "${values.port}" must be 1-65535`);
      const protocol = PROTOCOL_NAMES[values.protocol.toLowerCase()];
      if (!protocol) throw new UsageError(`--protocol: "${values.protocol}" must be tcp, udp or sctp`);
      const timeoutMs = Number(values.timeout);
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
