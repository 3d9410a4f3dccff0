import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCniArgs, parseCniEnv } from './env.js';
import { CniError } from './errors.js';

const full = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/run/netns/x',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web',
};

function codeOf(fn: () => unknown): [number, string] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CniError);
    return [err.code, err.message];
  }
  assert.fail('expected a CniError');
}

describe('parseCniEnv', () => {
  it('parses a full ADD environment', () => {
    const env = parseCniEnv(full);
    assert.equal(env.command, 'ADD');
    assert.deepEqual(env.path, ['/opt/cni/bin', '/usr/lib/cni']);
    assert.deepEqual(env.args, { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'shop', K8S_POD_NAME: 'web' });
  });

  const cases: { name: string; env: Record<string, string | undefined>; code: number; msg: RegExp }[] = [
    { name: 'no command', env: { ...full, CNI_COMMAND: undefined }, code: 4, msg: /CNI_COMMAND is missing/ },
    {
      name: 'unknown command',
      env: { ...full, CNI_COMMAND: 'ATTACH' },
      code: 4,
      msg: /unknown command "ATTACH"/,
    },
    {
      name: 'ADD without netns',
      env: { ...full, CNI_NETNS: '' },
      code: 4,
      msg: /\[CNI_NETNS\] missing for ADD/,
    },
    {
      name: 'ADD without several',
      env: { CNI_COMMAND: 'ADD' },
      code: 4,
      msg: /\[CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH\] missing/,
    },
    {
      name: 'bad container id',
      env: { ...full, CNI_CONTAINERID: '-x' },
      code: 4,
      msg: /CNI_CONTAINERID: "-x" must start/,
    },
    {
      name: 'long ifname',
      env: { ...full, CNI_IFNAME: 'averyveryverylongname' },
      code: 4,
      msg: /CNI_IFNAME: "averyveryverylongname" is 21 characters long/,
    },
    { name: 'ifname with slash', env: { ...full, CNI_IFNAME: 'a/b' }, code: 4, msg: /must not contain/ },
    {
      name: 'bad CNI_ARGS pair',
      env: { ...full, CNI_ARGS: 'A=1;junk' },
      code: 4,
      msg: /invalid pair "junk"/,
    },
  ];
  for (const c of cases) {
    it(`rejects: ${c.name}`, () => {
      const [code, msg] = codeOf(() => parseCniEnv(c.env));
      assert.equal(code, c.code);
      assert.match(msg, c.msg);
    });
  }

  it('DEL needs no netns (containerd sends it empty after the task exited)', () => {
    assert.equal(parseCniEnv({ ...full, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns, '');
  });
  it('VERSION and STATUS need only the command', () => {
    assert.equal(parseCniEnv({ CNI_COMMAND: 'VERSION' }).command, 'VERSION');
    assert.equal(parseCniEnv({ CNI_COMMAND: 'STATUS' }).command, 'STATUS');
  });
  it('GC needs CNI_PATH', () => {
    assert.match(codeOf(() => parseCniEnv({ CNI_COMMAND: 'GC' }))[1], /\[CNI_PATH\] missing for GC/);
  });
  it('parseCniArgs keeps "=" inside values', () => {
    assert.deepEqual(parseCniArgs('A=b=c;;D='), { A: 'b=c', D: '' });
  });
});
