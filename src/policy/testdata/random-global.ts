// Seeded random GlobalNetworkPolicies and HostEndpoints for the differential tests: every action, orders that
// tie with each other and with NetworkPolicy's 1000, Calico selectors of every operator, nets and their
// negations, selectors and notSelectors, namespace selectors, ports, ranges, named ports, notPorts, protocols
// by name and number, notProtocol, ipVersion, and now and then a broken or host-only policy.
import { parseCalicoSelector } from '../../model/calico-selector.js';
import type {
  EntityRule,
  GlobalNetworkPolicy,
  GlobalPolicyPort,
  GlobalPolicyProtocol,
  GlobalPolicyRule,
  ParsedSelector,
} from '../../model/global-network-policy.js';
import { GLOBAL_POLICY_ACTIONS } from '../../model/global-network-policy.js';
import type { HostEndpoint } from '../../model/host-endpoint.js';
import { type Gen, LABEL_KEYS, LABEL_VALUES, NAMESPACES, PORT_NAMES, PORT_NUMBERS } from './random.js';

function term(g: Gen): string {
  const k = g.pick(LABEL_KEYS);
  const v = () => `'${g.pick(LABEL_VALUES)}'`;
  switch (g.int(0, 8)) {
    case 0:
      return `has(${k})`;
    case 1:
      return `!has(${k})`;
    case 2:
      return `${k} == ${v()}`;
    case 3:
      return `${k} != ${v()}`;
    case 4:
      return `${k} in { ${v()}, ${v()} }`;
    case 5:
      return `${k} not in { ${v()} }`;
    case 6:
      return `projectcalico.org/namespace == '${g.pick(NAMESPACES)}'`;
    case 7:
      return g.chance(0.5) ? 'all()' : 'global()';
    default:
      return `${k} starts with '${g.pick(LABEL_VALUES)}'`;
  }
}

function selectorText(g: Gen, depth = 0): string {
  if (depth > 1 || g.chance(0.5)) return term(g);
  const op = g.pick(['&&', '||']);
  const inner = `${selectorText(g, depth + 1)} ${op} ${selectorText(g, depth + 1)}`;
  return g.chance(0.3) ? `!(${inner})` : `(${inner})`;
}

function parsed(text: string): ParsedSelector {
  const r = parseCalicoSelector(text);
  if (!r.ok) throw new Error(`generated selector ${text}: ${r.error}`);
  return { text, selector: r.selector };
}

const NETS = ['10.244.1.0/24', '10.244.0.0/16', '10.244.2.0/30', '198.18.0.11/32', '192.0.2.0/24'];

function ports(g: Gen, named: boolean): GlobalPolicyPort[] {
  return Array.from({ length: g.int(1, 2) }, (): GlobalPolicyPort => {
    if (named && g.chance(0.25)) return { kind: 'named', name: g.pick(PORT_NAMES) };
    const from = g.pick(PORT_NUMBERS);
    return { kind: 'range', from, to: g.chance(0.6) ? from : from + g.int(1, 100) };
  });
}

function entity(g: Gen, dst: boolean, portful: boolean): EntityRule {
  return {
    nets: g.chance(0.25) ? g.some(NETS, 2).concat(g.pick(NETS)) : [],
    notNets: g.chance(0.15) ? [g.pick(NETS)] : [],
    ...(g.chance(0.3) ? { selector: parsed(selectorText(g)) } : {}),
    ...(g.chance(0.15) ? { notSelector: parsed(selectorText(g)) } : {}),
    ...(g.chance(0.15) ? { namespaceSelector: parsed(g.pick(['all()', 'global()', selectorText(g)])) } : {}),
    ports: dst && portful && g.chance(0.5) ? ports(g, true) : [],
    notPorts: portful && g.chance(0.15) ? ports(g, false) : [],
  };
}

function protocol(g: Gen): GlobalPolicyProtocol | undefined {
  if (g.chance(0.4)) return undefined;
  if (g.chance(0.15)) return { kind: 'number', number: g.pick([6, 17]) };
  return { kind: 'named', name: g.pick(['TCP', 'UDP', 'SCTP', 'TCP'] as const) };
}

function rule(g: Gen): GlobalPolicyRule {
  const proto = protocol(g);
  return {
    action: g.pick(GLOBAL_POLICY_ACTIONS),
    ...(proto ? { protocol: proto } : {}),
    ...(g.chance(0.1) ? { notProtocol: { kind: 'named', name: g.pick(['UDP', 'SCTP'] as const) } } : {}),
    ...(g.chance(0.1) ? { ipVersion: 4 as const } : {}),
    source: entity(g, false, proto !== undefined),
    destination: entity(g, true, proto !== undefined),
  };
}

/** How a policy applies to host endpoints: mostly normal, sometimes forwarded, before the DNAT, or untracked. */
function hostFlags(g: Gen): { preDNAT: boolean; doNotTrack: boolean; applyOnForward: boolean } {
  const r = g.rnd();
  if (r < 0.6) return { preDNAT: false, doNotTrack: false, applyOnForward: g.chance(0.2) };
  if (r < 0.75) return { preDNAT: false, doNotTrack: false, applyOnForward: true };
  if (r < 0.9) return { preDNAT: true, doNotTrack: false, applyOnForward: true };
  return { preDNAT: false, doNotTrack: true, applyOnForward: true };
}

export function randomGlobalPolicy(g: Gen, i: number): GlobalNetworkPolicy {
  const broken = g.chance(0.05);
  const rules = (): GlobalPolicyRule[] => {
    const list = Array.from({ length: g.int(0, 3) }, () => rule(g));
    return broken ? list.filter((r) => r.action === 'Deny') : list;
  };
  const host = broken ? { preDNAT: false, doNotTrack: false, applyOnForward: false } : hostFlags(g);
  const ingress = rules();
  const egress = host.preDNAT ? [] : rules();
  const types: GlobalNetworkPolicy['types'] = host.preDNAT
    ? ['Ingress']
    : g.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']] as const);
  return {
    kind: 'GlobalNetworkPolicy',
    group: g.chance(0.8) ? 'palisade.dev' : 'crd.projectcalico.org',
    name: `g${i}`,
    ...(g.chance(0.8) ? { order: g.pick([10, 500, 1000, 1000, 2000]) } : {}),
    selector: parsed(g.chance(0.3) ? 'all()' : selectorText(g)),
    ...(g.chance(0.3) ? { namespaceSelector: parsed(g.pick([selectorText(g), 'global()', 'all()'])) } : {}),
    types,
    ingress,
    egress,
    ...host,
    problems: broken ? ['spec.order: "x" is not a number'] : [],
  };
}

/** Now and then a host endpoint of a node, so that selectors in rules also name node addresses. */
export function randomHostEndpoints(g: Gen): HostEndpoint[] {
  return (['node-1', 'node-2'] as const).flatMap((node, i): HostEndpoint[] =>
    g.chance(0.5)
      ? [
          {
            kind: 'HostEndpoint',
            group: 'palisade.dev',
            name: node,
            labels: { [g.pick(LABEL_KEYS)]: g.pick(LABEL_VALUES) },
            node,
            interfaceName: '*',
            expectedIPs: [`198.18.0.1${i + 1}`],
            profiles: g.chance(0.5) ? ['projectcalico-default-allow'] : [],
            ports: [],
            problems: [],
          },
        ]
      : [],
  );
}
