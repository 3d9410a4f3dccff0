// GlobalNetworkPolicy and HostEndpoint API objects → the model, in each group they are served as (palisade.dev
// and Calico's: calico-groups.ts). The datastore watches each kind in each group as a resource of its own,
// named `<plural>.<group>`; an object is parsed as of its resource's group (a list item carries no apiVersion).
// Pure and total, as kube-convert.ts: the parsers fail closed and never throw.
import { CALICO_KINDS_API_VERSIONS } from '../model/calico-groups.js';
import type { CalicoCompatGroup, GlobalNetworkPolicy } from '../model/global-network-policy.js';
import { parseGlobalNetworkPolicy } from '../model/global-network-policy-parse.js';
import type { HostEndpoint } from '../model/host-endpoint.js';
import { parseHostEndpoint } from '../model/host-endpoint-parse.js';
import { isObject } from '../model/k8s.js';

type Json = Record<string, unknown>;

/** The kinds, by resource (plural). */
export const CALICO_KINDS = {
  globalnetworkpolicies: 'GlobalNetworkPolicy',
  hostendpoints: 'HostEndpoint',
} as const;
export type CalicoKindPlural = keyof typeof CALICO_KINDS;

/** The datastore's name of one kind in one group: `globalnetworkpolicies.projectcalico.org`. */
export type CalicoKindResource = `${CalicoKindPlural}.${CalicoCompatGroup}`;

export function calicoKindResource(plural: CalicoKindPlural, group: CalicoCompatGroup): CalicoKindResource {
  return `${plural}.${group}`;
}

/** The plural, group and apiVersion of a CalicoKindResource; undefined for any other resource. */
export function splitCalicoKindResource(
  resource: string,
): { plural: CalicoKindPlural; group: CalicoCompatGroup; apiVersion: string } | undefined {
  const dot = resource.indexOf('.');
  const plural = resource.slice(0, dot);
  const group = resource.slice(dot + 1);
  if (dot < 0 || !Object.hasOwn(CALICO_KINDS, plural) || !Object.hasOwn(CALICO_KINDS_API_VERSIONS, group))
    return undefined;
  const g = group as CalicoCompatGroup;
  return { plural: plural as CalicoKindPlural, group: g, apiVersion: CALICO_KINDS_API_VERSIONS[g] };
}

/** The collection's path on the API server; undefined for a resource not a CalicoKindResource. */
export function calicoKindPath(resource: string): string | undefined {
  const r = splitCalicoKindResource(resource);
  return r && `/apis/${r.apiVersion}/${r.plural}`;
}

/**
 * Kind and apiVersion filled in when a list item comes without them (as kube-convert's toNetworkPolicy). The
 * status is left out: it is what the agents report (kube-host-status.ts), never policy, and the parsers take
 * apiVersion, kind, metadata and spec only.
 */
function withType(obj: Json, kind: string, apiVersion: string): Json {
  const { status: _status, ...doc }: Json = obj;
  doc.kind ??= kind;
  doc.apiVersion ??= apiVersion;
  return doc;
}

export function toGlobalNetworkPolicy(obj: unknown, apiVersion: string): GlobalNetworkPolicy {
  return parseGlobalNetworkPolicy(isObject(obj) ? withType(obj, 'GlobalNetworkPolicy', apiVersion) : obj);
}

export function toHostEndpoint(obj: unknown, apiVersion: string): HostEndpoint {
  return parseHostEndpoint(isObject(obj) ? withType(obj, 'HostEndpoint', apiVersion) : obj);
}

/**
 * What the informer caches for one: the parsed model, the metadata the informer keys on, and what its status
 * writer reads (uid, generation, the stored conditions: kube-host-status.ts).
 */
export interface CompactCalicoKind {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: { name: string; uid?: string; resourceVersion: string; generation?: number };
  readonly conditions?: unknown;
  readonly model: GlobalNetworkPolicy | HostEndpoint;
}

const str = (v: unknown): v is string => typeof v === 'string';

/** The object as cached, parsed as of `resource`'s group; undefined when `resource` is not one of these. */
export function compactCalicoKind(resource: string, obj: Json): CompactCalicoKind | undefined {
  const r = splitCalicoKindResource(resource);
  if (!r) return undefined;
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const conditions = isObject(obj.status) ? obj.status.conditions : undefined;
  return {
    ...(str(obj.kind) ? { kind: obj.kind } : {}),
    ...(str(obj.apiVersion) ? { apiVersion: obj.apiVersion } : {}),
    metadata: {
      name: str(meta.name) ? meta.name : '',
      ...(str(meta.uid) ? { uid: meta.uid } : {}),
      resourceVersion: str(meta.resourceVersion) ? meta.resourceVersion : '',
      ...(typeof meta.generation === 'number' ? { generation: meta.generation } : {}),
    },
    ...(conditions !== undefined ? { conditions } : {}),
    model:
      r.plural === 'hostendpoints'
        ? toHostEndpoint(obj, r.apiVersion)
        : toGlobalNetworkPolicy(obj, r.apiVersion),
  };
}
