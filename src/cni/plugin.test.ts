// The plugin's composition with a fake runner: what reaches stdout and the exit code, for each kind of input.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createFakeRunner } from '../dataplane/runner.js';
import { createNullLogger } from '../util/log.js';
import { runPlugin } from './plugin.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-plugin-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const conf = (v = '1.1.0', extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: v,
    name: 'net',
    type: 'palisade-cni',
    ipam: { type: 'palisade', subnet: '10.1.0.0/30', dataDir: dir },
    ...extra,
  });
const env = (command: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/run/netns/x',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  ...extra,
});

function deps(netnsExists = true) {
  return { runner: createFakeRunner(), log: createNullLogger(), netnsExists: () => netnsExists };
}

async function errorOf(e: Record<string, string>, stdin: string, exists = true) {
  const out = await runPlugin(e, stdin, deps(exists));
  assert.equal(out.exitCode, 1);
  return JSON.parse(out.stdout) as { cniVersion: string; code: number; msg: string; details?: string };
}

describe('runPlugin', () => {
  it('VERSION needs no stdin', async () => {
    const out = await runPlugin({ CNI_COMMAND: 'VERSION' }, '', deps());
    assert.equal(out.exitCode, 0);
    assert.deepEqual(JSON.parse(out.stdout).supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']);
  });
  it('an error is one JSON document in the config version, exit 1', async () => {
    assert.deepEqual(await errorOf(env('ADD'), conf('0.4.0', { mtu: 1 })), {
      cniVersion: '0.4.0',
      code: 7,
      msg: 'invalid network configuration: mtu: 1 must be an integer from 68 to 65535',
    });
  });
  it('falls back to the newest version when the config has none we support', async () => {
    const doc = await errorOf(env('ADD'), conf('7.0.0'));
    assert.equal(doc.cniVersion, '1.1.0');
    assert.equal(doc.code, 1);
  });
  it('undecodable stdin is code 6', async () => {
    assert.equal((await errorOf(env('ADD'), 'nope')).code, 6);
  });
  it('missing environment is code 4 before stdin is read', async () => {
    assert.equal((await errorOf({ CNI_COMMAND: 'DEL' }, 'nope')).code, 4);
  });
  it('a missing netns on ADD is code 3 and runs no command', async () => {
    const d = deps(false);
    const out = await runPlugin(env('ADD'), conf(), d);
    assert.equal(JSON.parse(out.stdout).code, 3);
    assert.deepEqual(d.runner.calls, []);
  });
  it('a failed pod-side step reports code 102 with the command error and releases the address', async () => {
    const calls: string[] = [];
    const runner = createFakeRunner((argv, opts) => {
      calls.push(`${opts.netns ?? 'host'}: ${argv.join(' ')}`);
      return opts.netns ? new Error('pod side failed') : { stdout: '', stderr: '' };
    });
    const out = await runPlugin(env('ADD'), conf(), {
      runner,
      log: createNullLogger(),
      netnsExists: () => true,
    });
    const doc = JSON.parse(out.stdout) as { code: number; details: string };
    assert.equal(doc.code, 102);
    assert.match(doc.details, /pod side failed/);
    // Nothing leaked: the /30 has two usable addresses, and two other containers still get them.
    for (const id of ['c2', 'c3']) {
      const ok = await runPlugin(env('ADD', { CNI_CONTAINERID: id }), conf(), deps());
      assert.equal(ok.exitCode, 0, ok.stdout);
    }
    assert.equal(calls.length, 2);
  });
  it('STATUS and GC need cniVersion 1.1.0', async () => {
    assert.equal((await errorOf({ CNI_COMMAND: 'STATUS' }, conf('1.0.0'))).code, 1);
    assert.equal((await errorOf({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, conf('0.4.0'))).code, 1);
  });
});
