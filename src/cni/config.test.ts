import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeStdin, parseNetConf } from './config.js';
import { CniError } from './errors.js';

const base = {
  cniVersion: '1.1.0',
  name: 'palisade',
  type: 'palisade-cni',
  ipam: { type: 'palisade', subnet: '10.244.1.0/24', dataDir: '/tmp/x' },
};

function fails(fn: () => unknown): CniError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CniError, String(err));
    return err;
  }
  assert.fail('expected a CniError');
}

describe('decodeStdin', () => {
  it('malformed JSON is code 6 with the parser message in details', () => {
    const err = fails(() => decodeStdin('{"cniVersion":'));
    assert.equal(err.code, 6);
    assert.match(err.details, /JSON/);
  });
  it('a JSON value that is not an object is invalid config (7)', () => {
    assert.equal(fails(() => decodeStdin('[1,2]')).code, 7);
    assert.equal(fails(() => decodeStdin('null')).code, 7);
  });
});

describe('parseNetConf', () => {
  it('fills defaults', () => {
    const c = parseNetConf(base, 'ADD');
    assert.equal(c.mode, 'routed');
    assert.equal(c.mtu, 1500);
    assert.equal(c.ipam.dataDir, '/tmp/x');
  });
  const cases: { name: string; raw: Record<string, unknown>; code: number; msg: RegExp }[] = [
    {
      name: 'no cniVersion',
      raw: { ...base, cniVersion: undefined },
      code: 7,
      msg: /cniVersion: must be a string/,
    },
    {
      name: 'unknown cniVersion',
      raw: { ...base, cniVersion: '0.2.0' },
      code: 1,
      msg: /incompatible CNI versions/,
    },
    {
      name: 'unsupported mode',
      raw: { ...base, mode: 'bridge' },
      code: 2,
      msg: /mode: "bridge" is not supported/,
    },
    {
      name: 'every invalid field at once',
      raw: { ...base, name: '', type: 3, mtu: 10, ipam: { type: 'palisade', subnet: 'nope' } },
      code: 7,
      msg: /name: "" must be.*; type: 3 must be.*; mtu: 10 must be.*; ipam\.subnet: "nope"/,
    },
    {
      name: 'bad prevResult',
      raw: { ...base, prevResult: 'x' },
      code: 7,
      msg: /prevResult: must be an object, got "x"/,
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      const err = fails(() => parseNetConf(c.raw, 'ADD'));
      assert.equal(err.code, c.code);
      assert.match(err.message, c.msg);
    });
  }
  it('GC reads the valid attachments under either key, and rejects a malformed list', () => {
    const att = [{ containerID: 'a', ifname: 'eth0' }];
    assert.deepEqual(parseNetConf({ ...base, 'cni.dev/valid-attachments': att }, 'GC').validAttachments, att);
    assert.deepEqual(parseNetConf({ ...base, 'cni.dev/attachments': att }, 'GC').validAttachments, att);
    assert.match(
      fails(() => parseNetConf({ ...base, 'cni.dev/valid-attachments': [{ containerID: 1 }] }, 'GC')).message,
      /cni\.dev\/valid-attachments\[0\]: must be \{containerID, ifname\} strings/,
    );
  });
});
