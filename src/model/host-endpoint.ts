// Calico's HostEndpoint (projectcalico.org/v3 fields; served as palisade.dev/v1, crd.projectcalico.org/v1 and
// projectcalico.org/v3) as Palisade holds it: a node's own interface(s) put under policy. Plain readonly data,
// validated, total. Pure. Parsing lives in host-endpoint-parse.ts.
//
// Reference: https://docs.tigera.io/calico/latest/reference/resources/hostendpoint and
// https://docs.tigera.io/calico/latest/reference/host-endpoints/overview.
import type { CalicoCompatGroup } from './global-network-policy.js';
import type { Protocol } from './k8s.js';

/** Calico's profile that makes an endpoint with no policy allow (its automatic host endpoints carry it). */
export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';

export interface HostEndpointPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
}

export interface HostEndpoint {
  readonly kind: 'HostEndpoint';
  readonly group: CalicoCompatGroup;
  /** metadata.name. */
  readonly name: string;
  /** metadata.labels: what GlobalNetworkPolicy selectors match. */
  readonly labels: Readonly<Record<string, string>>;
  /** spec.node: the node the interface is on. */
  readonly node: string;
  /**
   * spec.interfaceName: one interface, or "*" for every interface of the node (not loopback, not pod
   * interfaces). Absent: the interface that holds one of expectedIPs.
   */
  readonly interfaceName?: string;
  /** spec.expectedIPs (canonical text): the addresses a selector in a rule matches this endpoint by. */
  readonly expectedIPs: readonly string[];
  /** spec.profiles: only DEFAULT_ALLOW_PROFILE has a meaning here (no policy selects it → allow). */
  readonly profiles: readonly string[];
  /** spec.ports: named ports a rule's `ports` can name. */
  readonly ports: readonly HostEndpointPort[];
  /**
   * Why it could not be accepted, each naming the field path and the value. A host endpoint with problems still
   * protects what it names where that parsed (fail closed: broken labels read as none, so policies selecting
   * it by a label miss it and its default applies; broken profiles as none, so that default is deny).
   */
  readonly problems: readonly string[];
}

/** The key of a HostEndpoint: the group when not Palisade's own, and the name. */
export function hostEndpointKey(h: Pick<HostEndpoint, 'group' | 'name'>): string {
  return h.group === 'palisade.dev' ? `hep:${h.name}` : `hep:${h.group}/${h.name}`;
}

/** Whether the endpoint covers every interface of its node. */
export function coversAllInterfaces(h: Pick<HostEndpoint, 'interfaceName'>): boolean {
  return h.interfaceName === '*';
}
