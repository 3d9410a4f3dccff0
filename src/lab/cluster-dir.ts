// The lab's "API server": a directory of manifests every node's agent watches (dir datastore). Each object is
// one file written atomically; REVISION is written last, so an agent that reads revision R sees at least R.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomic } from '../util/atomic-file.js';
import { fnv1a32 } from '../util/hash.js';

export function clusterDir(labDir: string): string {
  return join(labDir, 'cluster');
}

/**
 * `group` tells apart kinds served in several groups (GlobalNetworkPolicy and HostEndpoint: objects of different
 * groups are different objects); empty for the others.
 */
function objectFile(labDir: string, kind: string, namespace: string, name: string, group: string): string {
  // Short, unique, safe names: the manifest itself carries the real identity.
  const id = group ? `${group}:${namespace}/${name}` : `${namespace}/${name}`;
  return join(clusterDir(labDir), `${kind.toLowerCase()}-${fnv1a32(id)}.yaml`);
}

export function writeObject(labDir: string, obj: Record<string, unknown>, group = ''): void {
  mkdirSync(clusterDir(labDir), { recursive: true });
  const meta = obj.metadata as { name: string; namespace?: string };
  writeFileAtomic(
    objectFile(labDir, String(obj.kind), meta.namespace ?? '', meta.name, group),
    stringify(obj),
  );
}

export function deleteObject(
  labDir: string,
  kind: string,
  namespace: string,
  name: string,
  group = '',
): void {
  rmSync(objectFile(labDir, kind, namespace, name, group), { force: true });
}

export function writeRevision(labDir: string, revision: number): void {
  mkdirSync(clusterDir(labDir), { recursive: true });
  writeFileAtomic(join(clusterDir(labDir), 'REVISION'), `${revision}\n`);
}

/**
 * A Pod as the API server would hold it once scheduled (and, with `ip`, running). A hostNetwork pod's address is
 * its node's: it is written as spec.hostNetwork with status.hostIP and no podIPs, so that the dir datastore (which
 * takes every podIP for a pod endpoint) never takes a node's address for a pod's, just as the kubernetes
 * datastore gives a hostNetwork pod no endpoint address.
 */
export function podManifest(pod: {
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  node: string;
  ports: readonly { name?: string; containerPort: number; protocol: string }[];
  ip?: string;
  hostNetwork?: boolean;
}): Record<string, unknown> {
  const containers = [{ name: 'main', ports: pod.ports.map((p) => ({ ...p })) }];
  const status = !pod.ip
    ? undefined
    : pod.hostNetwork
      ? { hostIP: pod.ip }
      : { podIP: pod.ip, podIPs: [{ ip: pod.ip }] };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace: pod.namespace, labels: { ...pod.labels } },
    spec: { nodeName: pod.node, ...(pod.hostNetwork ? { hostNetwork: true } : {}), containers },
    ...(status ? { status } : {}),
  };
}
