import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  configFiles,
  hasPluginLast,
  type Insertion,
  insertPlugin,
  mainConflist,
  parseNetworkConfigEnv,
  pickPrimary,
  pluginKubeconfig,
  removePlugin,
} from './cni-conf.js';

const DIR = '/etc/cni/net.d';
const OWN = '05-palisade.conflist';
const ENTRY = { type: 'palisade-cni', mode: 'redirect', kubeconfig: '/etc/cni/net.d/palisade-kubeconfig' };

type Obj = Record<string, unknown>;

function makeList(plugins: Obj[], extra: Obj = {}): Obj {
  return { name: 'k8s-pod-network', cniVersion: '0.3.1', ...extra, plugins };
}

const CALICO = { type: 'calico', ipam: { type: 'calico-ipam' } };
const PORTMAP = { type: 'portmap', capabilities: { portMappings: true } };
const FLANNEL_CONF = { name: 'cbr0', cniVersion: '0.3.1', type: 'flannel', delegate: { hairpinMode: true } };

function text(obj: unknown): string {
  return JSON.stringify(obj, null, 2) + '\n';
}

/** The insertion, failing the test on an error result. */
function inserted(file: string, input: string, entry: Obj = ENTRY): Insertion {
  const got = insertPlugin(file, input, entry);
  if ('error' in got) assert.fail(`unexpected error: ${got.error}`);
  return got;
}

describe('configFiles', () => {
  it('keeps .conf, .conflist and .json, sorted lexically', () => {
    const got = configFiles([
      '99-z.json',
      '10-calico.conflist',
      '05-a.conf',
      'calico-kubeconfig',
      '10-b.conf',
    ]);
    assert.deepEqual(got, ['05-a.conf', '10-b.conf', '10-calico.conflist', '99-z.json']);
  });
  it('ignores backups, extensionless names and other files', () => {
    const got = configFiles(['10-calico.conflist.bak', 'multus.d', 'README', 'x.yaml', 'conf', '20-x.conf~']);
    assert.deepEqual(got, []);
  });
  it('sorts by code unit, not locale (uppercase before lowercase)', () => {
    assert.deepEqual(configFiles(['b.conf', 'A.conf', 'a.conf']), ['A.conf', 'a.conf', 'b.conf']);
  });
});

describe('pickPrimary', () => {
  const listing = ['20-flannel.conf', '10-calico.conflist', OWN, 'calico-kubeconfig'];
  const rows: { name: string; names: string[]; confName?: string; want: unknown }[] = [
    { name: 'lexically first, own file skipped', names: listing, want: { file: '10-calico.conflist' } },
    {
      name: 'CNI_CONF_NAME given',
      names: listing,
      confName: '20-flannel.conf',
      want: { file: '20-flannel.conf' },
    },
    {
      name: 'CNI_CONF_NAME converted by an earlier insert',
      names: ['10-flannel.conflist'],
      confName: '10-flannel.conf',
      want: { file: '10-flannel.conflist' },
    },
    {
      name: 'CNI_CONF_NAME missing',
      names: listing,
      confName: '30-cilium.conflist',
      want: {
        error: `CNI_CONF_NAME: "30-cilium.conflist" not found in ${DIR}: waiting for the primary CNI to write it`,
      },
    },
    {
      name: 'CNI_CONF_NAME not a config file',
      names: listing,
      confName: 'calico-kubeconfig',
      want: { error: `CNI_CONF_NAME: "calico-kubeconfig" is not a .conf, .conflist or .json file in ${DIR}` },
    },
    {
      name: 'CNI_CONF_NAME is our own file',
      names: listing,
      confName: OWN,
      want: { error: `CNI_CONF_NAME: "${OWN}" is Palisade's own config; name the primary CNI's config` },
    },
    {
      name: 'only our own file',
      names: [OWN, 'x.bak'],
      want: { error: `no CNI network config in ${DIR}: waiting for the primary CNI to write one` },
    },
    {
      name: 'empty dir',
      names: [],
      want: { error: `no CNI network config in ${DIR}: waiting for the primary CNI to write one` },
    },
    {
      name: 'empty CNI_CONF_NAME means unset',
      names: listing,
      confName: '',
      want: { file: '10-calico.conflist' },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const opts = {
        dir: DIR,
        ownFile: OWN,
        ...(row.confName === undefined ? {} : { confName: row.confName }),
      };
      assert.deepEqual(pickPrimary(row.names, opts), row.want);
    });
  }
  it('without ownFile nothing is skipped', () => {
    assert.deepEqual(pickPrimary([OWN, '10-calico.conflist'], { dir: DIR }), { file: OWN });
  });
});

describe('insertPlugin', () => {
  const FILE = `${DIR}/10-calico.conflist`;

  it('appends the entry last in a conflist, keeping other keys and their order', () => {
    const input = text(makeList([CALICO, PORTMAP], { disableCheck: false }));
    const got = inserted(FILE, input);
    assert.deepEqual(got, {
      file: FILE,
      text: text(makeList([CALICO, PORTMAP, ENTRY], { disableCheck: false })),
      unchanged: false,
    });
    assert.deepEqual(Object.keys(JSON.parse(got.text)), ['name', 'cniVersion', 'disableCheck', 'plugins']);
  });

  it('converts a single-plugin .conf into a .conflist that replaces it', () => {
    const got = inserted(`${DIR}/20-flannel.conf`, JSON.stringify(FLANNEL_CONF));
    assert.equal(got.file, `${DIR}/20-flannel.conflist`);
    assert.equal(got.replaces, `${DIR}/20-flannel.conf`);
    assert.equal(got.unchanged, false);
    const want = {
      cniVersion: '0.3.1',
      name: 'cbr0',
      plugins: [{ type: 'flannel', delegate: { hairpinMode: true } }, ENTRY],
    };
    assert.equal(got.text, text(want));
  });

  it('converts a single-plugin .json too', () => {
    const got = inserted('10-bridge.json', JSON.stringify({ ...FLANNEL_CONF, type: 'bridge' }));
    assert.equal(got.file, '10-bridge.conflist');
    assert.equal(got.replaces, '10-bridge.json');
    assert.deepEqual(JSON.parse(got.text).plugins, [
      { type: 'bridge', delegate: { hairpinMode: true } },
      ENTRY,
    ]);
  });

  it('treats a .conf with "plugins" as a conflist, written as .conflist', () => {
    const got = inserted('10-x.conf', JSON.stringify(makeList([CALICO])));
    assert.deepEqual(got, {
      file: '10-x.conflist',
      text: text(makeList([CALICO, ENTRY])),
      replaces: '10-x.conf',
      unchanged: false,
    });
  });

  it('re-inserts after the primary rewrote its file without us', () => {
    const first = inserted(FILE, text(makeList([CALICO])));
    assert.equal(hasPluginLast(first.text, 'palisade-cni'), true);
    const rewritten = text(makeList([CALICO, PORTMAP]));
    assert.equal(hasPluginLast(rewritten, 'palisade-cni'), false);
    const again = inserted(FILE, rewritten);
    assert.equal(again.text, text(makeList([CALICO, PORTMAP, ENTRY])));
    assert.equal(again.unchanged, false);
  });

  it('is idempotent: a second insert is unchanged, whatever the key order', () => {
    const first = inserted(FILE, text(makeList([CALICO])));
    assert.equal(first.unchanged, false);
    const second = inserted(FILE, first.text);
    assert.deepEqual(second, { ...first, unchanged: true });
    const reordered = { kubeconfig: ENTRY.kubeconfig, mode: 'redirect', type: 'palisade-cni' };
    assert.equal(inserted(FILE, first.text, reordered).unchanged, true);
  });

  it('replaces an entry whose content changed', () => {
    const first = inserted(FILE, text(makeList([CALICO])));
    const got = inserted(FILE, first.text, { ...ENTRY, mode: 'main' });
    assert.equal(got.unchanged, false);
    assert.deepEqual(JSON.parse(got.text).plugins, [CALICO, { ...ENTRY, mode: 'main' }]);
  });

  it('moves an old entry of ours from the middle to the end, dropping duplicates', () => {
    const input = text(makeList([CALICO, ENTRY, PORTMAP, { type: 'palisade-cni', mode: 'old' }]));
    const got = inserted(FILE, input);
    assert.equal(got.unchanged, false);
    assert.deepEqual(JSON.parse(got.text).plugins, [CALICO, PORTMAP, ENTRY]);
  });

  const bad: { name: string; file?: string; input: string; entry?: Obj; want: string | RegExp }[] = [
    { name: 'not JSON', input: '{"name": ', want: /^\/etc\/cni\/net\.d\/10-calico\.conflist: not JSON: / },
    { name: 'not an object', input: '[1]', want: `${FILE}: must be a JSON object, got [1]` },
    {
      name: 'plugins not an array',
      input: JSON.stringify({ name: 'n', cniVersion: '1.0.0', plugins: { type: 'calico' } }),
      want: `${FILE}: plugins: must be an array, got {"type":"calico"}`,
    },
    {
      name: 'empty plugins',
      input: JSON.stringify(makeList([])),
      want: `${FILE}: plugins: must not be empty`,
    },
    {
      name: 'a plugin without a string type',
      input: JSON.stringify(makeList([CALICO, { type: 3 }])),
      want: `${FILE}: plugins[1].type: must be a string, got 3`,
    },
    {
      name: 'every problem at once',
      input: JSON.stringify({ cniVersion: 1, plugins: ['x', { type: '' }] }),
      want: `${FILE}: cniVersion: must be a string, got 1; name: must be a string, got undefined; plugins[0]: must be a JSON object, got "x"; plugins[1].type: must not be empty`,
    },
    {
      name: 'a single .conf without type',
      file: '20-flannel.conf',
      input: JSON.stringify({ name: 'cbr0', cniVersion: '0.3.1' }),
      want: '20-flannel.conf: type: must be a string, got undefined',
    },
    {
      name: 'a conflist file holding a single plugin',
      input: JSON.stringify(FLANNEL_CONF),
      want: `${FILE}: plugins: must be an array, got undefined`,
    },
    {
      name: 'entry without type',
      input: text(makeList([CALICO])),
      entry: { mode: 'redirect' },
      want: `${FILE}: entry.type: must be a string, got undefined`,
    },
    {
      name: 'entry not JSON-serialisable',
      input: text(makeList([CALICO])),
      entry: { type: 'palisade-cni', n: 1n },
      want: /^\/etc\/cni\/net\.d\/10-calico\.conflist: entry: not serialisable as JSON: /,
    },
    {
      name: 'not a config file name',
      file: '10-calico.yaml',
      input: text(makeList([CALICO])),
      want: '10-calico.yaml: not a CNI config file name (want .conf, .conflist or .json)',
    },
  ];
  for (const row of bad) {
    it(`reports ${row.name}`, () => {
      const got = insertPlugin(row.file ?? FILE, row.input, row.entry ?? ENTRY);
      if (!('error' in got)) assert.fail(`want an error, got ${JSON.stringify(got)}`);
      if (typeof row.want === 'string') assert.equal(got.error, row.want);
      else assert.match(got.error, row.want);
    });
  }
});

describe('removePlugin', () => {
  const FILE = '10-calico.conflist';
  it('removes every entry of the type, keeping the rest in order', () => {
    const input = text(makeList([ENTRY, CALICO, PORTMAP, ENTRY]));
    assert.deepEqual(removePlugin(FILE, input, 'palisade-cni'), { text: text(makeList([CALICO, PORTMAP])) });
  });
  it('is unchanged when the type is absent', () => {
    assert.deepEqual(removePlugin(FILE, text(makeList([CALICO])), 'palisade-cni'), { unchanged: true });
    assert.deepEqual(removePlugin('20-flannel.conf', JSON.stringify(FLANNEL_CONF), 'palisade-cni'), {
      unchanged: true,
    });
  });
  it('refuses to leave no plugins', () => {
    assert.deepEqual(
      removePlugin(OWN, mainConflist({ cniVersion: '1.0.0', name: 'p', entry: ENTRY }), 'palisade-cni'),
      {
        error: `${OWN}: removing the "palisade-cni" plugin would leave no plugins`,
      },
    );
  });
  it('reports malformed input', () => {
    assert.deepEqual(removePlugin(FILE, JSON.stringify(makeList([{ kind: 'x' }])), 'calico'), {
      error: `${FILE}: plugins[0].type: must be a string, got undefined`,
    });
    const got = removePlugin(FILE, 'nope', 'calico');
    assert.ok('error' in got && got.error.startsWith(`${FILE}: not JSON: `), JSON.stringify(got));
  });
});

describe('hasPluginLast', () => {
  const rows: { name: string; input: string; want: boolean }[] = [
    { name: 'ours last', input: text(makeList([CALICO, ENTRY])), want: true },
    { name: 'ours in the middle', input: text(makeList([ENTRY, CALICO])), want: false },
    { name: 'absent', input: text(makeList([CALICO, PORTMAP])), want: false },
    {
      name: 'a single plugin of ours',
      input: JSON.stringify({ ...ENTRY, name: 'p', cniVersion: '1.0.0' }),
      want: true,
    },
    { name: 'a single other plugin', input: JSON.stringify(FLANNEL_CONF), want: false },
    { name: 'not JSON', input: '{', want: false },
    { name: 'another plugin malformed', input: JSON.stringify(makeList([{}, ENTRY])), want: false },
    { name: 'no name', input: JSON.stringify({ cniVersion: '1.0.0', plugins: [ENTRY] }), want: false },
  ];
  for (const row of rows) {
    it(row.name, () => assert.equal(hasPluginLast(row.input, 'palisade-cni'), row.want));
  }
});

describe('mainConflist', () => {
  it('is {cniVersion, name, plugins: [entry]} as indented JSON with a newline', () => {
    const got = mainConflist({ cniVersion: '1.0.0', name: 'palisade', entry: ENTRY });
    assert.equal(got, text({ cniVersion: '1.0.0', name: 'palisade', plugins: [ENTRY] }));
    assert.ok(got.startsWith('{\n  "cniVersion": "1.0.0",\n') && got.endsWith('}\n'));
    assert.equal(hasPluginLast(got, 'palisade-cni'), true);
  });
  it('is a valid conflist for insertPlugin, and re-inserting is unchanged', () => {
    const got = mainConflist({ cniVersion: '1.0.0', name: 'palisade', entry: ENTRY });
    assert.equal(inserted(OWN, got).unchanged, true);
  });
});

describe('parseNetworkConfigEnv', () => {
  it('parses a valid entry', () => {
    assert.deepEqual(parseNetworkConfigEnv(JSON.stringify(ENTRY), {}), { entry: ENTRY });
  });
  it('substitutes placeholders, every occurrence, leaving unknown ones', () => {
    const input =
      '{"type":"palisade-cni","kubeconfig":"__KUBECONFIG_FILEPATH__","log":"__LOG_LEVEL__",' +
      '"again":"__LOG_LEVEL__/__LOG_LEVEL_FILE__","mtu":__CNI_MTU__,"other":"__NODE_NAME__"}';
    const vars = {
      KUBECONFIG_FILEPATH: '/etc/cni/net.d/p-kc',
      LOG_LEVEL: 'info',
      LOG_LEVEL_FILE: 'x',
      CNI_MTU: '1450',
    };
    assert.deepEqual(parseNetworkConfigEnv(input, vars), {
      entry: {
        type: 'palisade-cni',
        kubeconfig: '/etc/cni/net.d/p-kc',
        log: 'info',
        again: 'info/x',
        mtu: 1450,
        other: '__NODE_NAME__',
      },
    });
  });
  it('substitutes in one pass: a value holding a placeholder is not expanded again', () => {
    const got = parseNetworkConfigEnv('{"type":"__A__","b":"__B__"}', { A: '__B__', B: '$&' });
    assert.deepEqual(got, { entry: { type: '__B__', b: '$&' } });
  });
  it('reports invalid JSON', () => {
    const got = parseNetworkConfigEnv('{"type": palisade}', {});
    assert.ok('error' in got && got.error.startsWith('CNI_NETWORK_CONFIG: not JSON: '), JSON.stringify(got));
  });
  it('reports a missing or empty type and a non-object', () => {
    assert.deepEqual(parseNetworkConfigEnv('{"mode":"redirect"}', {}), {
      error: 'CNI_NETWORK_CONFIG.type: must be a string, got undefined',
    });
    assert.deepEqual(parseNetworkConfigEnv('{"type":""}', {}), {
      error: 'CNI_NETWORK_CONFIG.type: must not be empty',
    });
    assert.deepEqual(parseNetworkConfigEnv('"palisade-cni"', {}), {
      error: 'CNI_NETWORK_CONFIG: must be a JSON object, got "palisade-cni"',
    });
  });
});

describe('pluginKubeconfig', () => {
  const PEM =
    '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUFakeCertificateBody==\n-----END CERTIFICATE-----\n';
  const opts = { server: 'https://10.96.0.1:443', caPem: PEM, token: 'tok.en' };

  it('is JSON with one cluster, user and context, and current-context set', () => {
    const kc = JSON.parse(pluginKubeconfig(opts));
    assert.equal(kc.apiVersion, 'v1');
    assert.equal(kc.kind, 'Config');
    assert.equal(kc.clusters.length, 1);
    assert.equal(kc.clusters[0].cluster.server, 'https://10.96.0.1:443');
    assert.deepEqual(kc.users, [{ name: 'palisade-cni', user: { token: 'tok.en' } }]);
    assert.deepEqual(kc.contexts, [
      { name: 'palisade', context: { cluster: kc.clusters[0].name, user: kc.users[0].name } },
    ]);
    assert.equal(kc['current-context'], kc.contexts[0].name);
    assert.ok(pluginKubeconfig(opts).endsWith('}\n'));
  });

  it('carries the CA as base64 that decodes back to the PEM', () => {
    const data = JSON.parse(pluginKubeconfig(opts)).clusters[0].cluster['certificate-authority-data'];
    assert.equal(data, Buffer.from(PEM, 'utf8').toString('base64'));
    assert.equal(Buffer.from(data, 'base64').toString('utf8'), PEM);
  });

  it('encodes every padding length and non-ASCII text like Buffer does', () => {
    for (const caPem of ['', 'a', 'ab', 'abc', 'abcd', 'é', '€uro', '😀!', '\u00ff\u0000~']) {
      const data = JSON.parse(pluginKubeconfig({ ...opts, caPem })).clusters[0].cluster[
        'certificate-authority-data'
      ];
      assert.equal(data, Buffer.from(caPem, 'utf8').toString('base64'), JSON.stringify(caPem));
    }
  });
});
