import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PodServerConfigError, parsePodServerConfig } from './pod-server-config.js';

const base = { id: 'default/web-0', controlSocket: '/tmp/lab/pods/web.sock', ports: [] as unknown[] };

function withFields(fields: Record<string, unknown>): string {
  return JSON.stringify({ ...base, ...fields });
}

function problemsOf(text: string): readonly string[] {
  try {
    parsePodServerConfig(text, 'pod.json');
  } catch (err) {
    assert.ok(err instanceof PodServerConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a PodServerConfigError');
}

describe('parsePodServerConfig', () => {
  it('accepts a config with every protocol and defaults protocol to TCP', () => {
    const text = withFields({
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { port: 53, protocol: 'UDP' },
        { port: 9000, protocol: 'SCTP' },
        { port: 8080 },
      ],
    });
    assert.deepStrictEqual(parsePodServerConfig(text, 'pod.json'), {
      id: 'default/web-0',
      controlSocket: '/tmp/lab/pods/web.sock',
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { port: 53, protocol: 'UDP' },
        { port: 9000, protocol: 'SCTP' },
        { port: 8080, protocol: 'TCP' },
      ],
    });
  });

  it("accepts a lab host's name as the id (node and outside servers)", () => {
    assert.equal(parsePodServerConfig(withFields({ id: 'node-1' }), 'x').id, 'node-1');
    assert.equal(parsePodServerConfig(withFields({ id: 'outside' }), 'x').id, 'outside');
  });

  it('takes the addresses to serve on, when given', () => {
    const cfg = parsePodServerConfig(
      withFields({ id: 'outside', addresses: ['198.18.0.3', '203.0.113.10'] }),
      'x',
    );
    assert.deepStrictEqual(cfg.addresses, ['198.18.0.3', '203.0.113.10']);
    assert.equal(parsePodServerConfig(withFields({}), 'x').addresses, undefined);
  });

  it('accepts the same port number on two protocols', () => {
    const cfg = parsePodServerConfig(
      withFields({
        ports: [
          { port: 53, protocol: 'TCP' },
          { port: 53, protocol: 'UDP' },
        ],
      }),
      'x',
    );
    assert.equal(cfg.ports.length, 2);
  });

  const cases: { name: string; text: string; want: string[] }[] = [
    { name: 'not JSON', text: '{', want: [] },
    {
      name: 'bad addresses',
      text: withFields({ addresses: ['198.18.0.3', 'outside', 7] }),
      want: ['addresses[1]: "outside" is not an IP', 'addresses[2]: 7 is not an IP'],
    },
    {
      name: 'no addresses',
      text: withFields({ addresses: [] }),
      want: ['addresses: [] is not a non-empty array'],
    },
    { name: 'not an object', text: '[1]', want: ['[1] is not an object'] },
    {
      name: 'bad id',
      text: withFields({ id: 'ns/web/0' }),
      want: ['id: "ns/web/0" is not "<namespace>/<pod>" or a host name (letters, digits, "-" and "." only)'],
    },
    {
      name: 'id with shell characters',
      text: withFields({ id: "ns/a'b" }),
      want: [`id: "ns/a'b" is not "<namespace>/<pod>" or a host name (letters, digits, "-" and "." only)`],
    },
    {
      name: 'relative socket',
      text: withFields({ controlSocket: 'pod.sock' }),
      want: ['controlSocket: "pod.sock" is not an absolute path'],
    },
    {
      name: 'socket path too long',
      text: withFields({ controlSocket: `/${'s'.repeat(120)}` }),
      want: [`controlSocket: "/${'s'.repeat(75)}... is longer than 107 bytes (a Unix socket limit)`],
    },
    {
      name: 'missing ports',
      text: JSON.stringify({ id: 'a/b', controlSocket: '/s' }),
      want: ['ports: (missing) is not an array'],
    },
    {
      name: 'every port problem at once',
      text: withFields({
        ports: [
          { port: 0 },
          { port: 80, protocol: 'tcp' },
          'x',
          { port: 1.5, name: 7 },
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'UDP' },
        ],
      }),
      want: [
        'ports[0].port: 0 is not an integer in 1..65535',
        'ports[1].protocol: "tcp" is not one of TCP, UDP, SCTP',
        'ports[2]: "x" is not an object',
        'ports[3].port: 1.5 is not an integer in 1..65535',
        'ports[3].name: 7 is not a string',
        'ports[5]: 53/UDP repeats ports[4]',
      ],
    },
    {
      name: 'problems in several fields',
      text: JSON.stringify({ id: 3, controlSocket: null, ports: {} }),
      want: [
        'id: 3 is not "<namespace>/<pod>" or a host name (letters, digits, "-" and "." only)',
        'controlSocket: null is not an absolute path',
        'ports: {} is not an array',
      ],
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      const got = problemsOf(c.text);
      if (c.name === 'not JSON') assert.match(got[0]!, /^not JSON: /);
      else assert.deepStrictEqual(got, c.want);
    });
  }

  it('names the source in the message and keeps the JSON error as cause', () => {
    try {
      parsePodServerConfig('{', '/lab/pods/x.json');
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof PodServerConfigError);
      assert.match(err.message, /^invalid pod server config \/lab\/pods\/x\.json: not JSON/);
      assert.ok(err.cause instanceof SyntaxError);
    }
  });
});
