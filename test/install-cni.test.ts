// `palisade install-cni` against temporary CNI dirs, run as the DaemonSet runs it (a process, configured by
// environment, stopped with SIGTERM): main mode; chained mode on a fresh dir, a .conf, a .conflist; the primary
// CNI rewriting its config while install-cni runs; a malformed config; the service account token rotating;
// uninstall. No namespaces, no root needed.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureBuilt, REPO } from './helpers/netns.js';

const T = { timeout: 30_000 };
const root = mkdtempSync(join(tmpdir(), 'palisade-install-'));
const children: ChildProcess[] = [];
// Below the kernel's ephemeral range (32768-60999 here), which outgoing connections and every `listen(0)` of
// other tests (the lab's API server forwarder) draw from: a port taken from there was once already in use.
let nextPort = 20000 + Math.floor(Math.random() * 12000);

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

const CALICO = {
  cniVersion: '0.3.1',
  name: 'k8s-pod-network',
  plugins: [
    { type: 'calico', ipam: { type: 'calico-ipam' } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
};
const FLANNEL_CONF = {
  cniVersion: '0.3.1',
  name: 'cbr0',
  type: 'flannel',
  delegate: { isDefaultGateway: true },
};

interface Run {
  readonly net: string;
  readonly bin: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly stderr: () => string;
}

function start(name: string, env: Record<string, string>, seed?: (net: string) => void): Run {
  ensureBuilt();
  const dir = join(root, name);
  const net = join(dir, 'net.d');
  const bin = join(dir, 'bin');
  mkdirSync(net, { recursive: true });
  mkdirSync(bin, { recursive: true });
  seed?.(net);
  const port = nextPort++;
  let err = '';
  const child = spawn(process.execPath, [join(REPO, 'bin', 'palisade'), 'install-cni'], {
    env: {
      ...process.env,
      CNI_BIN_DIR: bin,
      CNI_NET_DIR: net,
      HOST_CNI_NET_DIR: '/etc/cni/net.d',
      PALISADE_INSTALL_LISTEN: `127.0.0.1:${port}`,
      PALISADE_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  children.push(child);
  return { net, bin, port, child, stderr: () => err };
}

function readyz(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

async function until<T>(what: string, f: () => T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function untilReady(run: Run, want: number): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await readyz(run.port);
    if (r.status === want) return r.body;
    if (Date.now() > deadline)
      throw new Error(`readyz never ${want} (last ${r.status} ${r.body}); log:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(run: Run): Promise<void> {
  run.child.kill('SIGTERM');
  await new Promise<void>((r) => (run.child.exitCode !== null ? r() : run.child.once('exit', () => r())));
  assert.equal(run.child.exitCode, 0, run.stderr());
}

const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
const types = (conf: Record<string, unknown>) => (conf.plugins as { type: string }[]).map((p) => p.type);

describe('install-cni', () => {
  it('main mode: writes its conflist and the plugin files; removes them on stop', T, async () => {
    const run = start('main', { PALISADE_CNI_MODE: 'main', PALISADE_POD_CIDR: '10.244.3.0/24' });
    await untilReady(run, 200);
    const conf = json(join(run.net, '05-palisade.conflist'));
    assert.deepEqual(types(conf), ['palisade-cni']);
    assert.deepEqual((conf.plugins as Record<string, unknown>[])[0]!.ipam, {
      type: 'palisade',
      subnet: '10.244.3.0/24',
    });
    assert.deepEqual(readdirSync(run.bin).sort(), ['palisade-cni', 'palisade-cni-node', 'palisade-node']);
    await stop(run);
    assert.deepEqual(readdirSync(run.net), []);
    assert.deepEqual(readdirSync(run.bin), []);
  });

  it(
    'chained, fresh dir: not ready until the primary CNI writes its config, then appends to it',
    T,
    async () => {
      const run = start('fresh', { PALISADE_CNI_MODE: 'chained' });
      assert.match(await untilReady(run, 503), /no CNI network config/);
      writeFileSync(join(run.net, '10-calico.conflist'), JSON.stringify(CALICO));
      await untilReady(run, 200);
      const conf = json(join(run.net, '10-calico.conflist'));
      assert.deepEqual(types(conf), ['calico', 'portmap', 'palisade-cni']);
      const ours = (conf.plugins as Record<string, unknown>[])[2]!;
      assert.equal(ours.mode, 'redirect');
      assert.equal(ours.kubeconfig, '/etc/cni/net.d/palisade-kubeconfig');
      await stop(run);
      assert.deepEqual(
        types(json(join(run.net, '10-calico.conflist'))),
        ['calico', 'portmap'],
        'entry removed',
      );
    },
  );

  it('chained, a single .conf: converted to a .conflist with the entry last', T, async () => {
    const run = start('conf', { PALISADE_CNI_MODE: 'chained' }, (net) =>
      writeFileSync(join(net, '10-flannel.conf'), JSON.stringify(FLANNEL_CONF)),
    );
    await untilReady(run, 200);
    assert.deepEqual(
      readdirSync(run.net).filter((f) => !f.startsWith('palisade')),
      ['10-flannel.conflist'],
    );
    const conf = json(join(run.net, '10-flannel.conflist'));
    assert.equal(conf.name, 'cbr0');
    assert.deepEqual(types(conf), ['flannel', 'palisade-cni']);
    await stop(run);
  });

  it('chained: the primary CNI rewriting its config gets the entry back', T, async () => {
    const run = start('rewrite', { PALISADE_CNI_MODE: 'chained' }, (net) =>
      writeFileSync(join(net, '10-calico.conflist'), JSON.stringify(CALICO)),
    );
    await untilReady(run, 200);
    for (let i = 0; i < 3; i++) {
      writeFileSync(
        join(run.net, '10-calico.conflist'),
        JSON.stringify({ ...CALICO, cniVersion: `0.4.${i}` }),
      );
      await until('the entry back', () => {
        const c = json(join(run.net, '10-calico.conflist'));
        return c.cniVersion === `0.4.${i}` && types(c).at(-1) === 'palisade-cni';
      });
    }
    await untilReady(run, 200);
    await stop(run);
  });

  it('chained with CNI_NETWORK_CONFIG and CNI_CONF_NAME: that entry, in that file', T, async () => {
    const entry =
      '{"type":"palisade-cni","mode":"redirect","proxyPort":15010,"kubeconfig":"__KUBECONFIG_FILEPATH__"}';
    const run = start(
      'named',
      { PALISADE_CNI_MODE: 'chained', CNI_CONF_NAME: '20-b.conflist', CNI_NETWORK_CONFIG: entry },
      (net) => {
        writeFileSync(join(net, '10-a.conflist'), JSON.stringify(CALICO));
        writeFileSync(join(net, '20-b.conflist'), JSON.stringify({ ...CALICO, name: 'b' }));
      },
    );
    await untilReady(run, 200);
    assert.deepEqual(
      types(json(join(run.net, '10-a.conflist'))),
      ['calico', 'portmap'],
      'the other file untouched',
    );
    const ours = (json(join(run.net, '20-b.conflist')).plugins as Record<string, unknown>[]).at(-1)!;
    assert.deepEqual(ours, {
      type: 'palisade-cni',
      mode: 'redirect',
      proxyPort: 15010,
      kubeconfig: '/etc/cni/net.d/palisade-kubeconfig',
    });
    await stop(run);
  });

  it('a malformed config is reported, not overwritten', T, async () => {
    const broken = '{"cniVersion":"0.3.1","name":"x","plugins":[{"type":"calico"},';
    const run = start('malformed', { PALISADE_CNI_MODE: 'chained' }, (net) =>
      writeFileSync(join(net, '10-calico.conflist'), broken),
    );
    assert.match(await untilReady(run, 503), /10-calico\.conflist.*not JSON/);
    assert.equal(readFileSync(join(run.net, '10-calico.conflist'), 'utf8'), broken);
    assert.match(run.stderr(), /CNI config not in place/);
    await stop(run);
    assert.equal(readFileSync(join(run.net, '10-calico.conflist'), 'utf8'), broken);
  });

  it('writes a kubeconfig for its service account and rewrites it when the token rotates', T, async () => {
    const sa = join(root, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'token-1\n');
    writeFileSync(join(sa, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const run = start(
      'sa',
      {
        PALISADE_CNI_MODE: 'chained',
        PALISADE_SERVICE_ACCOUNT_DIR: sa,
        KUBERNETES_SERVICE_HOST: '10.96.0.1',
        KUBERNETES_SERVICE_PORT: '443',
        PALISADE_INSTALL_CHECK_INTERVAL: '200',
      },
      (net) => writeFileSync(join(net, '10-calico.conflist'), JSON.stringify(CALICO)),
    );
    await untilReady(run, 200);
    const kc = join(run.net, 'palisade-kubeconfig');
    const user = () => (json(kc).users as { user: { token: string } }[])[0]!.user.token;
    assert.equal(user(), 'token-1');
    assert.equal(
      (json(kc).clusters as { cluster: { server: string } }[])[0]!.cluster.server,
      'https://10.96.0.1:443',
    );
    writeFileSync(join(sa, 'token'), 'token-2\n');
    await until('the rotated token', () => existsSync(kc) && user() === 'token-2');
    await stop(run);
    assert.equal(existsSync(kc), false);
  });
});
