// Invalid NetworkPolicies: the exact problems, and the fail-closed shape (selection kept or the whole
// namespace, policyTypes kept or both, no rules).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkPolicy } from './network-policy.js';
import { parseNetworkPolicy } from './network-policy-parse.js';
import { labels, makePolicy, npDoc } from './network-policy-parse.testkit.js';

type Shape = Partial<Pick<NetworkPolicy, 'podSelector' | 'policyTypes'>>;

function failCase(name: string, spec: unknown, problems: string[], shape: Shape = {}) {
  return { name, spec, problems, shape };
}

describe('parseNetworkPolicy: invalid specs fail closed', () => {
  const I0 = 'spec.ingress[0]';
  const web = labels({ app: 'web' });
  const viaCidr = (cidr: string, ...except: string[]) => ({
    ingress: [{ from: [{ ipBlock: { cidr, except } }] }],
  });
  const viaPort = (p: Record<string, unknown>) => ({
    podSelector: { matchLabels: { app: 'web' } },
    ingress: [{ ports: [p] }],
  });
  const cases = [
    failCase('spec not an object', 'x', ['spec: must be an object, got "x"'], {
      policyTypes: ['Ingress', 'Egress'],
    }),
    failCase(
      'broken podSelector: whole namespace',
      { podSelector: { matchLabels: { app: 'a b' } }, ingress: [{}] },
      ['spec.podSelector.matchLabels["app"]: value "a b" is not a valid label value'],
    ),
    failCase(
      'labels written into podSelector',
      { podSelector: { app: 'web' }, policyTypes: ['Egress'] },
      ['spec.podSelector.app: unknown field'],
      {
        policyTypes: ['Egress'],
      },
    ),
    failCase(
      'selection kept when a rule is broken',
      { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{}] }] },
      [`${I0}.from[0]: {} must specify a peer (podSelector, namespaceSelector or ipBlock)`],
      { podSelector: web },
    ),
    failCase(
      'ipBlock with a selector',
      { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, namespaceSelector: {} }] }] },
      [`${I0}.from[0]: may not specify both ipBlock and another peer (podSelector or namespaceSelector)`],
    ),
    failCase(
      'prefix too long',
      { ingress: [{ from: [{ podSelector: {} }, { ipBlock: { cidr: '10.0.0.0/33' } }] }] },
      ['spec.ingress[0].from[1].ipBlock.cidr: "10.0.0.0/33" has an invalid prefix length (must be 0-32)'],
    ),
    failCase('host bits', viaCidr('10.0.0.1/8'), [
      `${I0}.from[0].ipBlock.cidr: "10.0.0.1/8" has host bits set; the network is 10.0.0.0/8`,
    ]),
    failCase('no prefix length', viaCidr('10.0.0.1'), [
      `${I0}.from[0].ipBlock.cidr: "10.0.0.1" is not a CIDR (it has no prefix length)`,
    ]),
    failCase('leading 0 in prefix', viaCidr('10.0.0.0/08'), [
      `${I0}.from[0].ipBlock.cidr: "10.0.0.0/08" must not have leading 0s in the prefix length`,
    ]),
    failCase('IPv4-mapped IPv6', viaCidr('::ffff:10.0.0.0/104'), [
      `${I0}.from[0].ipBlock.cidr: "::ffff:10.0.0.0/104" must not be an IPv4-mapped IPv6 address`,
    ]),
    failCase('not an address', viaCidr('web/8'), [
      `${I0}.from[0].ipBlock.cidr: "web" is not an IPv4 or IPv6 address`,
    ]),
    failCase('cidr missing', { ingress: [{ from: [{ ipBlock: {} }] }] }, [
      `${I0}.from[0].ipBlock.cidr: required`,
    ]),
    failCase('cidr not a string', viaCidr(8 as unknown as string), [
      `${I0}.from[0].ipBlock.cidr: 8 must be a CIDR string`,
    ]),
    failCase(
      'except outside, equal, other family, invalid',
      viaCidr('10.0.0.0/16', '10.1.0.0/24', '10.0.0.0/16', 'fd00::/64', '10.0.0.0/40'),
      [
        `${I0}.from[0].ipBlock.except[0]: "10.1.0.0/24" must be a strict subset of cidr "10.0.0.0/16"`,
        `${I0}.from[0].ipBlock.except[1]: "10.0.0.0/16" must be a strict subset of cidr "10.0.0.0/16"`,
        `${I0}.from[0].ipBlock.except[2]: "fd00::/64" must be a strict subset of cidr "10.0.0.0/16"`,
        `${I0}.from[0].ipBlock.except[3]: "10.0.0.0/40" has an invalid prefix length (must be 0-32)`,
      ],
    ),
    failCase(
      'protocol',
      { egress: [{}, {}, { ports: [{ protocol: 'ICMP' }] }] },
      ['spec.egress[2].ports[0].protocol: "ICMP" must be one of TCP, UDP, SCTP'],
      { policyTypes: ['Ingress', 'Egress'] },
    ),
    failCase('port 0', viaPort({ port: 0 }), [`${I0}.ports[0].port: 0 must be an integer from 1 to 65535`], {
      podSelector: web,
    }),
    failCase(
      'port 65536',
      viaPort({ port: 65536 }),
      [`${I0}.ports[0].port: 65536 must be an integer from 1 to 65535`],
      { podSelector: web },
    ),
    failCase(
      'port 80.5',
      viaPort({ port: 80.5 }),
      [`${I0}.ports[0].port: 80.5 must be an integer from 1 to 65535`],
      { podSelector: web },
    ),
    failCase(
      'port true',
      viaPort({ port: true }),
      [`${I0}.ports[0].port: true must be a port number or a port name`],
      { podSelector: web },
    ),
    failCase(
      'port "80" is a name without a letter',
      viaPort({ port: '80' }),
      [`${I0}.ports[0].port: "80" is not a valid port name: must contain at least one letter (a-z)`],
      { podSelector: web },
    ),
    failCase(
      'port name uppercase',
      viaPort({ port: 'HTTP' }),
      [
        `${I0}.ports[0].port: "HTTP" is not a valid port name: must contain only lowercase letters, digits and hyphens, must contain at least one letter (a-z)`,
      ],
      { podSelector: web },
    ),
    failCase(
      'port name hyphens and length',
      viaPort({ port: '-my--very-long-name' }),
      [
        `${I0}.ports[0].port: "-my--very-long-name" is not a valid port name: must be no more than 15 characters, must not contain consecutive hyphens, must not begin or end with a hyphen`,
      ],
      { podSelector: web },
    ),
    failCase(
      'endPort without port',
      viaPort({ endPort: 90 }),
      [`${I0}.ports[0].endPort: 90 may not be specified when port is not specified`],
      { podSelector: web },
    ),
    failCase(
      'endPort with a named port',
      viaPort({ port: 'http', endPort: 90 }),
      [`${I0}.ports[0].endPort: 90 may not be specified when port is a name`],
      { podSelector: web },
    ),
    failCase(
      'endPort below port',
      viaPort({ port: 443, endPort: 80 }),
      [`${I0}.ports[0].endPort: 80 must be greater than or equal to port (443)`],
      { podSelector: web },
    ),
    failCase(
      'endPort out of range',
      viaPort({ port: 443, endPort: 70000 }),
      [`${I0}.ports[0].endPort: 70000 must be an integer from 1 to 65535`],
      { podSelector: web },
    ),
    failCase(
      'policyTypes unknown value',
      { policyTypes: ['Ingress', 'egress'] },
      ['spec.policyTypes[1]: "egress" must be one of Ingress, Egress'],
      {
        policyTypes: ['Ingress', 'Egress'],
      },
    ),
    failCase(
      'policyTypes duplicate',
      { policyTypes: ['Egress', 'Egress'] },
      ['spec.policyTypes[1]: "Egress" is listed twice'],
      {
        policyTypes: ['Ingress', 'Egress'],
      },
    ),
    failCase(
      'policyTypes not a list',
      { policyTypes: 'Ingress' },
      ['spec.policyTypes: must be a list of Ingress, Egress, got "Ingress"'],
      {
        policyTypes: ['Ingress', 'Egress'],
      },
    ),
    failCase(
      'egress not a list: types unknown',
      { egress: { to: [] } },
      ['spec.egress: must be a list, got {"to":[]}'],
      {
        policyTypes: ['Ingress', 'Egress'],
      },
    ),
    failCase('unknown fields', { ingres: [], ingress: [{ form: [], ports: [{ ports: 80 }] }] }, [
      'spec.ingres: unknown field',
      `${I0}.form: unknown field`,
      `${I0}.ports[0].ports: unknown field`,
    ]),
    failCase('peer and rule not objects', { ingress: [{ from: ['web'] }, 7] }, [
      `${I0}.from[0]: must be an object, got "web"`,
      'spec.ingress[1]: must be an object, got 7',
    ]),
  ];
  for (const c of cases) {
    it(c.name, () => {
      const want = makePolicy('p', 'shop', c.shape, { problems: c.problems });
      assert.deepStrictEqual(parseNetworkPolicy(npDoc(c.spec)), want);
    });
  }
});
