// Chained mode's DEL with a fake runner: it un-applies what ADD did (the redirect table in the pod's netns), only
// when the table is there (one cheap listing first: deleting a table costs an RCU wait), and succeeds when the
// table or the netns is already gone. test/chained-redirect.test.ts does the same on a real netns.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REDIRECT_TABLE } from '../chained/redirect-rules.js';
import { CommandError, createFakeRunner, type RunResult } from '../dataplane/runner.js';
import { createNullLogger } from '../util/log.js';
import { runPlugin } from './plugin.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-redirect-del-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NETNS = '/run/netns/pod-1';
const LIST = ['nft', 'list', 'tables', 'inet'];
const DELETE = ['nft', 'delete', 'table', 'inet', REDIRECT_TABLE];

const stdin = JSON.stringify({
  cniVersion: '1.0.0',
  name: 'chain',
  type: 'palisade-cni',
  mode: 'redirect',
  markerDir: join(dir, 'markers'),
});

function env(netns = NETNS): Record<string, string> {
  return {
    CNI_COMMAND: 'DEL',
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: netns,
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/opt/cni/bin',
    CNI_ARGS: 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web;K8S_POD_UID=u1',
  };
}

const ok = (stdout = ''): RunResult => ({ stdout, stderr: '' });
const failed = (argv: readonly string[], stderr: string) => new CommandError(['nsenter', ...argv], 1, stderr);
const TABLES_WITH_OURS = `table inet other\ntable inet ${REDIRECT_TABLE}\n`;

interface Row {
  readonly name: string;
  readonly netns?: string;
  readonly netnsExists?: boolean;
  readonly answer?: (argv: readonly string[]) => RunResult | Error;
  /** The commands run, each in the pod's netns. */
  readonly calls: readonly (readonly string[])[];
  readonly code?: number;
  readonly msg?: RegExp;
}

const ROWS: readonly Row[] = [
  {
    name: 'the table is there: it is deleted',
    answer: (a) => ok(a.includes('list') ? TABLES_WITH_OURS : ''),
    calls: [LIST, DELETE],
  },
  {
    name: 'no table (a pod ADD did not redirect, or a second DEL): only the listing',
    answer: () => ok('table inet other\ntable inet palisade_redirect_x\n'),
    calls: [LIST],
  },
  { name: 'the netns is gone: nothing to do', netnsExists: false, calls: [] },
  { name: 'CNI_NETNS is empty (containerd after the task exited): nothing to do', netns: '', calls: [] },
  {
    name: 'the netns vanished before nsenter opened it: success',
    answer: (a) => failed(a, `nsenter: cannot open ${NETNS}: No such file or directory`),
    calls: [LIST],
  },
  {
    name: 'the path is no longer a netns (unmounted): success',
    answer: (a) => failed(a, "nsenter: reassociate to namespace 'ns/net' failed: Invalid argument"),
    calls: [LIST],
  },
  {
    name: 'the table went between listing and delete: success',
    answer: (a) =>
      a.includes('list')
        ? ok(TABLES_WITH_OURS)
        : failed(a, 'Error: Could not process rule: No such file or directory'),
    calls: [LIST, DELETE],
  },
  {
    name: 'nft fails otherwise: DEL fails (102) naming the table and the netns',
    answer: (a) => (a.includes('list') ? ok(TABLES_WITH_OURS) : failed(a, 'Error: Operation not permitted')),
    calls: [LIST, DELETE],
    code: 102,
    msg: new RegExp(`^pod shop/web: failed to delete table inet ${REDIRECT_TABLE} in ${NETNS}$`),
  },
];

describe('chained mode DEL', () => {
  for (const row of ROWS) {
    it(row.name, async () => {
      const runner = createFakeRunner((argv) => (row.answer ?? (() => ok()))(argv));
      const deps = { runner, log: createNullLogger(), netnsExists: () => row.netnsExists ?? true };
      const out = await runPlugin(env(row.netns), stdin, deps);
      assert.deepEqual(
        runner.calls.map((c) => c.argv),
        row.calls,
      );
      for (const c of runner.calls) assert.equal(c.opts.netns, NETNS);
      if (row.code === undefined) {
        assert.deepEqual(out, { stdout: '', exitCode: 0 });
      } else {
        const doc = JSON.parse(out.stdout) as { code: number; msg: string };
        assert.equal(out.exitCode, 1);
        assert.equal(doc.code, row.code);
        assert.match(doc.msg, row.msg ?? /./);
      }
    });
  }
});
