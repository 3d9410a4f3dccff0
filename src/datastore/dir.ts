// The dir datastore: cluster state as a directory of manifests (Namespaces, Pods with status, Nodes with labels,
// NetworkPolicies, policy.networking.k8s.io ClusterNetworkPolicies, GlobalNetworkPolicies and HostEndpoints of
// every group they are served as, sorted by key), for the lab and standalone use. Policies
// come with their problems (they fail closed); there is no status to write here, the agent's log says it. Reloaded on fs.watch events and on a poll (fs.watch can
// miss events); a broken file is logged and skipped, never fatal.
//
// Writers (the lab) write each file atomically and then <dir>/REVISION; the revision is read before the files,
// so the state read is at least as new as the revision reported.
import { type FSWatcher, readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { type NamespaceInfo, type NodeInfo, type PodInfo, workloadOf } from '../model/cluster.js';
import type { ClusterNetworkPolicy } from '../model/cluster-network-policy.js';
import { type GlobalNetworkPolicy, globalPolicyKey } from '../model/global-network-policy.js';
import { type HostEndpoint, hostEndpointKey } from '../model/host-endpoint.js';
import { ValidationError } from '../model/k8s.js';
import { type ManifestObject, parseManifests } from '../model/manifests.js';
import type { NetworkPolicy } from '../model/network-policy.js';
import { WIREGUARD_ANNOTATION } from '../model/wireguard.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { Logger } from '../util/log.js';
import type { Datastore, DatastoreSnapshot } from './types.js';

const MANIFEST_RE = /\.(ya?ml|json)$/;

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && MANIFEST_RE.test(e.name))
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
}

/** Names, sizes and mtimes: changes when any manifest or REVISION changes. */
function signature(dir: string): string {
  const parts: string[] = [];
  for (const f of [...listFiles(dir), join(dir, 'REVISION')]) {
    try {
      const st = statSync(f);
      parts.push(`${f}:${st.size}:${st.mtimeMs}`);
    } catch {
      parts.push(`${f}:gone`); // deleted between listing and stat, or no REVISION file
    }
  }
  return parts.join('|');
}

interface DirWatchers {
  sync(): void;
  close(): void;
}

/**
 * One non-recursive fs.watch per directory. Node 20's recursive watch on Linux misses a file replaced by rename a
 * second time (tested: the second `rename REVISION.tmp REVISION` produced no event), which would leave agents
 * a poll interval behind; plain inotify watches on each directory report every rename.
 */
function createDirWatchers(root: string, onEvent: () => void, onError: (err: Error) => void): DirWatchers {
  const watchers = new Map<string, FSWatcher>();
  return {
    sync() {
      const dirs = new Set([
        root,
        ...readdirSync(root, { withFileTypes: true, recursive: true })
          .filter((e) => e.isDirectory())
          .map((e) => join(e.parentPath ?? e.path, e.name)),
      ]);
      for (const [d, w] of watchers) {
        if (!dirs.has(d)) {
          w.close();
          watchers.delete(d);
        }
      }
      for (const d of dirs) {
        if (watchers.has(d)) continue;
        const w = watch(d, onEvent);
        w.on('error', onError);
        watchers.set(d, w);
      }
    },
    close() {
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

export function snapshotFromObjects(objects: readonly ManifestObject[], revision: string): DatastoreSnapshot {
  const namespaces = new Map<string, NamespaceInfo>([
    ['default', { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } }],
  ]);
  const pods: PodInfo[] = [];
  const nodes: NodeInfo[] = [];
  const policies: NetworkPolicy[] = [];
  const clusterPolicies: ClusterNetworkPolicy[] = [];
  const globalPolicies: GlobalNetworkPolicy[] = [];
  const hostEndpoints: HostEndpoint[] = [];
  for (const o of objects) {
    if (o.kind === 'Namespace') {
      namespaces.set(o.name, {
        name: o.name,
        labels: { ...o.labels, 'kubernetes.io/metadata.name': o.name },
      });
    } else if (o.kind === 'Pod') {
      pods.push({
        namespace: o.namespace,
        name: o.name,
        node: o.nodeName ?? '',
        ips: o.ips,
        labels: o.labels,
        ports: o.ports,
        workload: workloadOf({
          annotations: o.annotations,
          containers: o.containers,
          initContainers: o.initContainers,
        }),
      });
    } else if (o.kind === 'Node') {
      const wireguard = o.annotations[WIREGUARD_ANNOTATION];
      nodes.push({
        name: o.name,
        ips: o.ips,
        labels: o.labels,
        ...(o.podCIDRs.length > 0 ? { podCIDRs: o.podCIDRs } : {}),
        ...(wireguard !== undefined ? { wireguard } : {}),
      });
    } else if (o.kind === 'NetworkPolicy') {
      policies.push(o);
    } else if (o.kind === 'ClusterNetworkPolicy') {
      clusterPolicies.push(o);
    } else if (o.kind === 'GlobalNetworkPolicy') {
      globalPolicies.push(o);
    } else if (o.kind === 'HostEndpoint') {
      hostEndpoints.push(o);
    }
  }
  return {
    revision,
    namespaces: [...namespaces.values()],
    pods,
    nodes,
    policies,
    clusterPolicies,
    globalPolicies: sortedBy(globalPolicies, globalPolicyKey),
    hostEndpoints: sortedBy(hostEndpoints, hostEndpointKey),
    synced: true,
  };
}

/** By key in code-unit order (the compiler's), stable. */
function sortedBy<T>(items: T[], key: (t: T) => string): T[] {
  return items.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Reads a manifest directory once (files that do not parse are skipped). */
export function readManifestDir(
  dir: string,
  onSkip: (file: string, problems: readonly string[]) => void = () => {},
): ManifestObject[] {
  const objects: ManifestObject[] = [];
  for (const file of listFiles(dir)) {
    try {
      objects.push(...parseManifests(readFileSync(file, 'utf8'), file));
    } catch (err) {
      onSkip(file, err instanceof ValidationError ? err.problems : [String(err)]);
    }
  }
  return objects;
}

export function createDirDatastore(opts: { dir: string; log: Logger; pollMs?: number }): Datastore {
  const log = opts.log.child({ component: 'datastore', dir: opts.dir });
  let current: DatastoreSnapshot = {
    revision: '0',
    namespaces: [],
    pods: [],
    nodes: [],
    policies: [],
    clusterPolicies: [],
    globalPolicies: [],
    hostEndpoints: [],
    synced: false,
  };
  let lastSignature = '';
  let generation = 0;
  let watchers: DirWatchers | undefined;
  let timer: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;

  const load = (): boolean => {
    const sig = signature(opts.dir);
    if (sig === lastSignature) return false;
    lastSignature = sig;
    generation += 1;
    let revision = String(generation);
    try {
      revision = readFileSync(join(opts.dir, 'REVISION'), 'utf8').trim() || revision;
    } catch {
      // no REVISION file: the generation stands in
    }
    const objects = readManifestDir(opts.dir, (file, problems) =>
      log.error({ file, problems }, 'manifest skipped'),
    );
    current = snapshotFromObjects(objects, revision);
    return true;
  };

  return {
    async start(onChange) {
      const reload = () => {
        if (load()) onChange();
      };
      const dirWatchers = createDirWatchers(
        opts.dir,
        () => {
          clearTimeout(debounce);
          debounce = setTimeout(() => {
            reload();
            dirWatchers.sync(); // directories may have come or gone
          }, 5);
        },
        (err) => log.warn({ err }, 'watch failed; polling continues'),
      );
      watchers = dirWatchers;
      reload();
      dirWatchers.sync();
      timer = setInterval(reload, opts.pollMs ?? 1000);
    },
    snapshot: () => current,
    async annotateNode(node, key, value) {
      annotateNodeInDir(opts.dir, node, key, value);
    },
    async stop() {
      watchers?.close();
      clearInterval(timer);
      clearTimeout(debounce);
    },
  };
}

/**
 * Sets an annotation on the Node named `node` in the file that holds it (rewritten atomically, its other
 * documents and comments kept); the watch then reloads it like any other change. Throws when no file holds it.
 */
export function annotateNodeInDir(dir: string, node: string, key: string, value: string): void {
  for (const file of listFiles(dir)) {
    let docs: ReturnType<typeof parseAllDocuments>;
    try {
      docs = parseAllDocuments(readFileSync(file, 'utf8'));
    } catch {
      continue; // unreadable: the loader reports it; not the Node's file either way
    }
    if (!Array.isArray(docs)) continue;
    const mine = docs.find((d) => d.get('kind') === 'Node' && d.getIn(['metadata', 'name']) === node);
    if (!mine) continue;
    mine.setIn(['metadata', 'annotations', key], value);
    writeFileAtomic(file, docs.map((d) => d.toString()).join(''));
    return;
  }
  throw new Error(`dir datastore ${dir}: no manifest holds Node ${node} to annotate`);
}
