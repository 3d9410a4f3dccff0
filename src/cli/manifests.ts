// `palisade manifests [--mode main|chained] [--values FILE] [--calico-groups LIST|none] [--host-endpoint-controller
// [--host-endpoint-label KEY=VALUE]...]`: the install YAML on stdout (src/deploy/manifests.ts).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { parseValues, renderManifests } from '../deploy/manifests.js';
import { isObject } from '../model/k8s.js';
import { UsageError } from './usage.js';

export const MANIFESTS_USAGE = `Usage: palisade manifests [--mode main|chained] [--values FILE] [--calico-groups LIST|none]
                          [--host-endpoint-controller [--host-endpoint-label KEY=VALUE]...]

Prints the install manifests (CRDs, Namespace, ServiceAccount, ClusterRole and binding, ConfigMap, DaemonSet) as
YAML. Options override the values file.
  --mode              main: Palisade is the cluster's CNI; chained: it runs after the cluster's CNI and redirects
                      selected pods' traffic to their proxy sidecar
  --calico-groups     Calico's API groups to serve GlobalNetworkPolicy and HostEndpoint under besides palisade.dev/v1,
                      so that manifests written for Calico apply unchanged: a comma-separated list of
                      crd.projectcalico.org/v1 and projectcalico.org/v3 (the default: both), or none where Calico is
                      installed (its CRDs and API server own those groups). The agent reads both kinds in each group
                      served, and only there.
  --host-endpoint-controller
                      the agent keeps a HostEndpoint (palisade.dev/v1) per node covering all its interfaces, and may
                      create, update, patch and delete HostEndpoints of palisade.dev (off by default)
  --host-endpoint-label KEY=VALUE
                      a label the controller puts on those HostEndpoints (repeatable), e.g. host-endpoint=ingress for
                      policies selecting has(host-endpoint)
  --encryption off|wireguard|ipsec
                      encrypt pod traffic between nodes. wireguard: the agents publish their key on their Node
                      (patch of nodes, narrowed by a ValidatingAdmissionPolicy to that one annotation); ipsec: the
                      pre-shared key is the Secret palisade-ipsec's key psk in the namespace (make it first, e.g.
                      kubectl create secret generic palisade-ipsec --from-literal=psk=$(openssl rand -base64 32))
                      (default off)
  --values            a YAML or JSON file of values: mode, namespace, image, imagePullPolicy, cniConfName,
                      excludeNamespaces, proxyPort, proxyUid, cniBinDir, cniNetDir, logLevel, repair, calicoGroups
                      (a list, [] for none), hostEndpointController, hostEndpointLabels (a map), encryption`;

/** KEY=VALUE pairs as a map; a malformed one is named (the key and value are checked with the values). */
function labelOptions(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--host-endpoint-label: ${JSON.stringify(p)} must be KEY=VALUE`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

export function runManifestsCommand(argv: readonly string[], out: (s: string) => void): number {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      mode: { type: 'string' },
      values: { type: 'string' },
      'calico-groups': { type: 'string' },
      'host-endpoint-controller': { type: 'boolean' },
      'host-endpoint-label': { type: 'string', multiple: true },
      encryption: { type: 'string' },
    },
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
  if (values['calico-groups'] !== undefined) raw = { ...raw, calicoGroups: values['calico-groups'] };
  if (values['host-endpoint-controller']) raw = { ...raw, hostEndpointController: true };
  if (values.encryption !== undefined) raw = { ...raw, encryption: values.encryption };
  if (values['host-endpoint-label']) {
    const given = labelOptions(values['host-endpoint-label']);
    const before = raw.hostEndpointLabels;
    raw = { ...raw, hostEndpointLabels: isObject(before) ? { ...before, ...given } : given };
  }
  const v = parseValues(raw, values.values ?? 'options');
  if ('errors' in v) throw new UsageError(v.errors.join('\n'));
  out(
    renderManifests(v)
      // No anchors or aliases (`kind: *a1`): the output is read by people and diffed in reviews.
      .map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false }))
      .join('---\n'),
  );
  return 0;
}
