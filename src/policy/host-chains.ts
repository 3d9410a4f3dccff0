// A node's host endpoints (its own interfaces under policy), written as nftables chains. Pure.
//
// Semantics (https://docs.tigera.io/calico/latest/reference/host-endpoints/: overview, failsafe, pre-dnat,
// forwarded, summary):
// - Traffic of the node itself (input, output) through a host endpoint's interface: the failsafe connections
//   pass first; then the normal (not preDNAT, not doNotTrack) GlobalNetworkPolicies that select the endpoint, by
//   order; selected and undecided: denied; not selected, or passed: the endpoint's default, which is allow with
//   the profile projectcalico-default-allow and deny without ("if a host endpoint is added and network policy is
//   not in place, the Calico default is to deny traffic to/from that endpoint (except for traffic allowed by
//   failsafe rules)").
// - Forwarded traffic (in through the endpoint to a pod or on, or from a pod out through it): only the normal
//   policies with applyOnForward; none selecting: allowed ("forwarded traffic is allowed by default if no
//   policies apply to the endpoint and direction"). The pods' own policies still apply after.
// - preDNAT policies (ingress only), before kube-proxy's DNAT: Deny drops; Allow and Pass go on to the rest of
//   the pipeline; no rule matching goes on too ("there is no 'default drop' semantic for pre-DNAT policy").
// - doNotTrack policies, before conntrack: Allow takes the packet out of connection tracking and past the filter
//   hooks; Deny drops; no match goes on, tracked.
// - A node and its own pods, and loopback, are never host endpoint traffic.
// A host endpoint covers one interface (interfaceName) or every interface but loopback and pods' ("*"); one
// naming an interface wins over "*" for that interface. One without interfaceName is reported, not programmed.
import {
  accept,
  type Chain,
  createChain,
  createRule,
  createSet,
  drop,
  goto,
  type Hook,
  type Match,
  type NamedSet,
  type Rule,
} from '../ir/ir.js';
import type { FailsafeRule } from '../model/failsafe.js';
import { coversAllInterfaces, type HostEndpoint, hostEndpointKey } from '../model/host-endpoint.js';
import { type Assigned, type HostInput, type HostKind, hostChain } from './host-endpoint-chains.js';
import { type Direction, originComment, sharedSetName, UNTRACKED_MARK } from './names.js';

export type { HostInput, HostKind } from './host-endpoint-chains.js';
export { hostPolicies, hostSelects, kindOf } from './host-endpoint-chains.js';

export interface HostOutput {
  /** Host endpoint chains, then the base chains (declaration order). */
  readonly chains: readonly Chain[];
  readonly sets: readonly NamedSet[];
  /** The policy chains they jump to, per direction. */
  readonly jumped: Readonly<Record<Direction, ReadonlySet<string>>>;
  /** Host endpoints that are not programmed, and why. */
  readonly problems: readonly { readonly hostEndpoint: string; readonly problem: string }[];
}

export const POD_INTERFACES_SET = 'pod_ifaces';
/** The set of this node's pod interfaces (always the first of HostOutput.sets when there is a host endpoint). */
export function hostInterfacesSet(podInterfaces: readonly string[]): NamedSet {
  return createSet({
    name: POD_INTERFACES_SET,
    type: 'ifname',
    interval: false,
    elements: podInterfaces.map((i) => `"${i}"`),
  });
}

function failsafeRules(rules: readonly FailsafeRule[], d: Direction, sets: NamedSet[]): Rule[] {
  const field = d === 'ingress' ? 'saddr' : 'daddr';
  return rules.map((r) => {
    const matches: Match[] = [
      { kind: 'l4proto', protocol: r.protocol },
      { kind: 'dport', ports: [{ from: r.port, to: r.endPort ?? r.port }] },
    ];
    if (r.cidr) {
      const family = r.cidr.includes(':') ? 6 : 4;
      const name = sharedSetName('blocks', family, r.cidr);
      sets.push(
        createSet({
          name,
          type: family === 4 ? 'ipv4_addr' : 'ipv6_addr',
          interval: true,
          elements: [r.cidr],
        }),
      );
      matches.unshift({ kind: 'addr-in-set', field, family, set: name });
    }
    const port = r.endPort ? `${r.port}-${r.endPort}` : `${r.port}`;
    const what = `failsafe ${d === 'ingress' ? 'in' : 'out'} ${r.protocol.toLowerCase()}/${port}${r.cidr ? ` ${r.cidr}` : ''}`;
    return createRule({ matches, verdict: accept, comment: what });
  });
}

/** Which endpoint covers which interface: named ones first (the first by key wins), then "*". */
function assign(heps: readonly HostEndpoint[]): {
  named: Assigned[];
  star?: Assigned;
  problems: HostOutput['problems'];
} {
  const problems: { hostEndpoint: string; problem: string }[] = [];
  const named: Assigned[] = [];
  let star: Assigned | undefined;
  const seen = new Map<string, string>();
  for (const hep of [...heps].sort((a, b) => (hostEndpointKey(a) < hostEndpointKey(b) ? -1 : 1))) {
    const key = hostEndpointKey(hep);
    const iface = hep.interfaceName;
    if (iface === undefined) {
      problems.push({
        hostEndpoint: key,
        problem:
          'spec.interfaceName is not set: Palisade enforces host endpoints by interface (a name or "*")',
      });
      continue;
    }
    const taken = seen.get(iface);
    if (taken) {
      problems.push({
        hostEndpoint: key,
        problem: `spec.interfaceName: "${iface}" is already covered by ${taken}`,
      });
      continue;
    }
    seen.set(iface, key);
    if (coversAllInterfaces(hep)) star = { hep, key };
    else named.push({ hep, key });
  }
  return { named, ...(star ? { star } : {}), problems };
}

const BASE: Readonly<Record<string, { hook: Hook; priority: number }>> = {
  host_raw_prerouting: { hook: 'prerouting', priority: -300 },
  host_raw_output: { hook: 'output', priority: -300 },
  host_prerouting: { hook: 'prerouting', priority: -110 },
  host_input: { hook: 'input', priority: 0 },
  host_output: { hook: 'output', priority: 0 },
  host_forward_in: { hook: 'forward', priority: -20 },
  host_forward_out: { hook: 'forward', priority: -15 },
};

export function compileHost(input: HostInput): HostOutput {
  const { named, star, problems } = assign(input.hostEndpoints);
  const sets: NamedSet[] = [];
  const chains: Chain[] = [];
  const bases: Chain[] = [];
  const jumped = { ingress: new Set<string>(), egress: new Set<string>() };
  if (!star && named.length === 0) return { chains, sets, jumped, problems };
  sets.push(hostInterfacesSet(input.podInterfaces));
  const covered = [...named, ...(star ? [star] : [])];
  /** Per endpoint, the chain of a kind and direction (or undefined: nothing to do), dispatched by interface. */
  const dispatch = (kind: HostKind, d: Direction, field: 'iifname' | 'oifname'): Rule[] => {
    const out: Rule[] = [];
    for (const a of covered) {
      const chain = hostChain(input, a, kind, d);
      const star = coversAllInterfaces(a.hep);
      const byName: Match[] = star
        ? []
        : [{ kind: 'ifname', field, name: a.hep.interfaceName!, negate: false }];
      const comment = originComment(`${a.key} ${kind} ${d}`);
      if (!chain) {
        // Nothing to do for this interface; it must not fall through to the "*" endpoint's chain.
        if (!star) out.push(createRule({ matches: byName, verdict: accept, counter: false, comment }));
        continue;
      }
      chains.push(chain.chain);
      for (const key of chain.policies) jumped[d].add(key);
      out.push(createRule({ matches: byName, verdict: goto(chain.chain.name), counter: false, comment }));
    }
    return out;
  };
  const notEndpoint = (field: 'iifname' | 'oifname'): Rule[] => [
    createRule({
      matches: [{ kind: 'ifname', field, name: 'lo', negate: false }],
      verdict: accept,
      counter: false,
      comment: 'loopback',
    }),
    createRule({
      matches: [{ kind: 'ifname-in-set', field, set: POD_INTERFACES_SET, negate: false }],
      verdict: accept,
      counter: false,
      comment:
        field === 'iifname'
          ? 'a pod to its node, or forwarded from a pod: the pod policy decides'
          : 'the node to its pods',
    }),
  ];
  const tracked: Rule[] = [
    createRule({
      matches: [{ kind: 'ct-state', states: ['established', 'related'] }],
      verdict: accept,
      counter: false,
      comment: 'return traffic of allowed connections',
    }),
    createRule({
      matches: [{ kind: 'mark-bit', bit: UNTRACKED_MARK, set: true }],
      verdict: accept,
      counter: false,
      comment: 'allowed untracked (doNotTrack)',
    }),
  ];
  const invalid = createRule({
    matches: [{ kind: 'ct-state', states: ['invalid'] }],
    verdict: drop,
    comment: 'invalid',
  });
  const failIn = failsafeRules(input.failsafes.inbound, 'ingress', sets);
  // Before routing, inbound failsafes must not open forwarded traffic: only what is addressed to the node.
  const failInLocal = failIn.map((r) => ({
    ...r,
    // The port first: most packets fail it, and skip the route lookup.
    matches: [...r.matches, { kind: 'daddr-local' } as const],
  }));
  const failOut = failsafeRules(input.failsafes.outbound, 'egress', sets);
  const base = (name: string, rules: Rule[], always = false) => {
    const targets = rules.some((r) => r.verdict?.kind === 'goto');
    if (!targets && !always) return;
    bases.push(createChain(name, rules, { base: { ...BASE[name]!, policy: 'accept' } }));
  };
  base('host_raw_prerouting', [
    ...notEndpoint('iifname'),
    ...failInLocal,
    ...dispatch('untracked', 'ingress', 'iifname'),
  ]);
  base('host_raw_output', [
    ...notEndpoint('oifname'),
    ...failOut,
    ...dispatch('untracked', 'egress', 'oifname'),
  ]);
  base('host_prerouting', [
    ...tracked,
    ...notEndpoint('iifname'),
    ...failInLocal,
    ...dispatch('preDNAT', 'ingress', 'iifname'),
  ]);
  base(
    'host_input',
    [...tracked, invalid, ...notEndpoint('iifname'), ...failIn, ...dispatch('normal', 'ingress', 'iifname')],
    true,
  );
  base(
    'host_output',
    [...tracked, invalid, ...notEndpoint('oifname'), ...failOut, ...dispatch('normal', 'egress', 'oifname')],
    true,
  );
  base('host_forward_in', [
    ...tracked,
    ...notEndpoint('iifname'),
    ...dispatch('forward', 'ingress', 'iifname'),
  ]);
  base('host_forward_out', [
    ...tracked,
    ...notEndpoint('oifname'),
    ...dispatch('forward', 'egress', 'oifname'),
  ]);
  return { chains: [...chains, ...bases], sets, jumped, problems };
}
