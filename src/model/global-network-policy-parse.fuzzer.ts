// Random GlobalNetworkPolicy documents for fuzz tests: plausible structure where a slot is sometimes left out,
// rarely replaced by anything, and a value now and then one Calico rejects. Deterministic for a given random
// source.
import { gnpDoc } from './global-network-policy-parse.testkit.js';

// biome-ignore format: a table of values
const SCALARS: unknown[] = [
  null, true, false, 0, 1, 4, 6, 53, 80, 255, 256, 65535, 65536, -1, 2.5, '', 'x', 'a b', 'TCP', 'tcp', 'ICMP',
  'Allow', 'Deny', 'Pass', 'Log', 'Ingress', 'Egress', 'all()', 'global()', 'has(a)', '10.0.0.0/8', 'fd00::/64',
  '0.0.0.0/0', '1000:2000', 'http', 'projectcalico.org/v3', 'GlobalNetworkPolicy',
];
// biome-ignore format: a table of field names
const FIELDS = [
  'apiVersion', 'kind', 'metadata', 'spec', 'name', 'order', 'selector', 'namespaceSelector', 'types', 'ingress',
  'egress', 'preDNAT', 'applyOnForward', 'doNotTrack', 'tier', 'action', 'protocol', 'notProtocol', 'ipVersion',
  'icmp', 'notICMP', 'type', 'code', 'source', 'destination', 'nets', 'notNets', 'ports', 'notPorts',
  'notSelector', 'services', 'http', 'bogus',
];

/** Random documents from `rnd`: `doc()` plausible GlobalNetworkPolicies, `any(0)` any JSON at all. */
export function gnpFuzzer(rnd: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const times = <T>(lo: number, hi: number, f: () => T): T[] =>
    Array.from({ length: lo + Math.floor(rnd() * (hi - lo + 1)) }, f);
  const any = (depth: number): unknown => {
    const r = rnd();
    if (depth > 4 || r < 0.45) return pick(SCALARS);
    if (r < 0.7) return times(0, 3, () => any(depth + 1));
    return Object.fromEntries(times(0, 4, () => [pick(FIELDS), any(depth + 1)]));
  };
  // A slot is sometimes left out (`absent`) or rarely anything; a value is now and then a bad one.
  const slot = (f: () => unknown, absent = 0.5): unknown => {
    const r = rnd();
    return r < 0.01 ? any(2) : r < absent ? undefined : f();
  };
  const choose = (good: readonly unknown[], bad: readonly unknown[]): unknown =>
    rnd() < 0.02 ? pick(bad) : pick(good);
  const selector = () =>
    choose(["app == 'web'", 'has(host-endpoint)', '', "role in {'a', 'b'}"], ['a ==', 'global()']);
  const v4 = () => choose(['10.0.0.0/8', '192.168.1.7', '0.0.0.0/0'], ['10.1.2.3/16', '10.0.0.300/8']);
  const v6 = () => choose(['fd00::/64', 'FD00::1'], ['fd00::1/64', 'x::']);
  const port = () => choose([80, 443, '8000:8080', 'http', '53'], [0, 70000, '9:1', 'a b']);
  const entity = (family: () => unknown) => ({
    nets: slot(() => times(1, 2, family), 0.7),
    notNets: slot(() => [family()], 0.9),
    selector: slot(selector, 0.7),
    notSelector: slot(selector, 0.9),
    namespaceSelector: slot(() => choose(['has(team)', 'global()'], ['global() && has(a)']), 0.9),
    ports: slot(() => times(1, 3, port), 0.6),
    notPorts: slot(() => [port()], 0.9),
    services: rnd() < 0.01 ? { name: 'a', namespace: 'b' } : undefined,
  });
  const rule = () => {
    const family = rnd() < 0.7 ? v4 : v6;
    const icmp = rnd() < 0.1;
    return {
      action: choose(['Allow', 'Deny', 'Pass', 'Log'], ['allow', undefined]),
      protocol: icmp
        ? choose([family === v4 ? 'ICMP' : 'ICMPv6', family === v4 ? 1 : 58], ['ICMP'])
        : slot(() => choose(['TCP', 'UDP', 'SCTP', 6, '17'], ['UDPLite', 'tcp', 0]), 0.3),
      ipVersion: slot(() => choose([family === v4 ? 4 : 6], [5, family === v4 ? 6 : 4]), 0.8),
      icmp: icmp
        ? slot(() => ({ type: choose([8, 0], [255]), code: slot(() => choose([0], [256])) }))
        : undefined,
      source: slot(() => entity(family)),
      destination: slot(() => entity(family)),
      http: rnd() < 0.01 ? { methods: ['GET'] } : undefined,
    };
  };
  const spec = () => {
    const preDNAT = rnd() < 0.15;
    return {
      order: slot(() => choose([10, 20.5, 1000], ['10'])),
      selector: slot(selector),
      namespaceSelector: slot(() => choose(['has(team)'], ['has(team']), 0.8),
      types: slot(
        () => choose([['Ingress'], ['Egress'], ['Ingress', 'Egress']], [['ingress'], ['Ingress', 'Ingress']]),
        0.6,
      ),
      ingress: slot(() => times(0, 3, rule), 0.2),
      egress: preDNAT ? choose([undefined], [[rule()]]) : slot(() => times(0, 3, rule), 0.3),
      preDNAT: preDNAT || undefined,
      doNotTrack: !preDNAT && rnd() < 0.1 ? true : undefined,
      applyOnForward: preDNAT ? choose([true], [false]) : slot(() => choose([true, false], ['yes'])),
      tier: slot(() => choose(['default'], ['security']), 0.9),
    };
  };
  const doc = () =>
    gnpDoc(
      slot(spec, 0.01),
      { name: choose(['p', 'allow-dns', 'default.p'], ['Bad_Name', 'a.b.c']) },
      choose(['projectcalico.org/v3', 'crd.projectcalico.org/v1', 'palisade.dev/v1'], ['v1']) as string,
    );
  return { any, doc };
}
