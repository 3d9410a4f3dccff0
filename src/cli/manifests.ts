// `palisade manifests [--mode main|chained] [--values FILE]`: the install YAML on stdout (src/deploy/manifests.ts).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { parseValues, renderManifests } from '../deploy/manifests.js';
import { UsageError } from './usage.js';

export const MANIFESTS_USAGE = `Usage: palisade manifests [--mode main|chained] [--values FILE]

Prints the install manifests (Namespace, ServiceAccount, ClusterRole and binding, ConfigMap, DaemonSet) as YAML.
  --mode     main: Palisade is the cluster's CNI; chained: it runs after the cluster's CNI and redirects selected
             pods' traffic to their proxy sidecar (overrides the values file's mode)
  --values   a YAML or JSON file of values: mode, namespace, image, imagePullPolicy, cniConfName,
             excludeNamespaces, proxyPort, proxyUid, cniBinDir, cniNetDir, logLevel`;

export function runManifestsCommand(argv: readonly string[], out: (s: string) => void): number {
  const { values } = parseArgs({
    args: [...argv],
    options: { mode: { type: 'string' }, values: { type: 'string' } },
    strict: true,
  });
  let raw: Record<string, unknown> = {};
  if (values.values) {
    const docs = parseAllDocuments(readFileSync(values.values, 'utf8'));
    const doc = Array.isArray(docs) ? docs[0] : docs;
    if (doc?.errors.length) throw new UsageError(`${values.values}: invalid YAML: ${doc.errors[0]!.message}`);
    raw = (doc?.toJS() as Record<string, unknown> | null) ?? {};
  }
  if (values.mode !== undefined) raw = { ...raw, mode: values.mode };
  const v = parseValues(raw, values.values ?? '--mode');
  if ('errors' in v) throw new UsageError(v.errors.join('\n'));
  out(
    renderManifests(v)
      // No anchors or aliases (`kind: *a1`): the output is read by people and diffed in reviews.
      .map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false }))
      .join('---\n'),
  );
  return 0;
}
