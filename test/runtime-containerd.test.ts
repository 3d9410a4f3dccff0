// A real container runtime calls palisade-cni: containerd (Debian's package) started by the test, and
// `ctr run --cni`, which runs CNI in the ctr client. ctr reads its network from /etc/cni/net.d and its plugins
// from /opt/cni/bin with no way to point elsewhere, so inside the test's private mount namespace a temp dir is
// bound over /etc/cni/net.d and a tmpfs put over /opt; the host's directories are checked to be unchanged.
// Everything runs in a "node" netns of the test's own and a PID namespace that dies with the test's shell.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hostVethName } from '../src/dataplane/veth-name.js';
import {
  createFixture,
  ensureBuilt,
  listNetns,
  palLinks,
  REPO,
  reservations,
  runner,
} from './helpers/netns.js';
import {
  assertContainerWired,
  assertNodeSide,
  awaitReport,
  buildBusyboxRootfs,
  isolatedShell,
  privateMountPrelude,
  removeCgroup,
  reportScript,
  snapshotDirs,
  which,
} from './helpers/runtime.js';

const NODE_IP = '10.250.0.1';
const SUBNET = '10.244.9.0/24';
/** Fixed paths ctr and containerd read or write when not isolated; the test checks they are as they were. */
const HOST_PATHS = ['/etc/cni/net.d', '/opt/cni', '/usr/lib/cni', '/run/containerd', '/var/lib/containerd'];

function skipReason(): string | false {
  if (!which('containerd') || !which('ctr'))
    return 'containerd/ctr not installed (Debian package containerd)';
  if (!existsSync('/etc/cni/net.d')) return '/etc/cni/net.d does not exist, so there is nothing to bind over';
  return false;
}

describe('containerd `ctr run --cni` runs a container on a palisade-cni network', {
  skip: skipReason(),
}, () => {
  const fx = createFixture('prc');
  const net = `${fx.prefix}net`;
  const ns = fx.prefix; // containerd namespace: also the parent cgroup of the task
  const id = 'c1';
  const ipamDir = join(fx.tmp, 'ipam');
  const ctl = join(fx.tmp, 'ctl');
  const ctrd = join(fx.tmp, 'ctrd');
  let nodeNs = '';
  let run: Promise<unknown> | undefined;

  before(async () => {
    ensureBuilt();
    nodeNs = await fx.netns('node');
    await runner.run(['ip', 'addr', 'add', `${NODE_IP}/32`, 'dev', 'lo'], { netns: nodeNs });
    for (const d of ['cnibin', 'net.d', 'ipam', 'ctl', 'ctrd'])
      mkdirSync(join(fx.tmp, d), { recursive: true });
    copyFileSync(join(REPO, 'dist', 'palisade-cni'), join(fx.tmp, 'cnibin', 'palisade-cni'));
    const conflist = {
      cniVersion: '1.0.0',
      name: net,
      plugins: [
        { type: 'palisade-cni', mtu: 1500, ipam: { type: 'palisade', subnet: SUBNET, dataDir: ipamDir } },
      ],
    };
    writeFileSync(join(fx.tmp, 'net.d', `10-${net}.conflist`), JSON.stringify(conflist));
    writeFileSync(join(ctrd, 'config.toml'), containerdConfig(ctrd));
    buildBusyboxRootfs(fx.tmp);
  });

  after(async () => {
    if (existsSync(ctl)) writeFileSync(join(ctl, 'go'), ''); // let a container still waiting exit by itself
    await run?.catch(() => undefined); // its PID namespace takes containerd and the shim with it
    removeCgroup(ns);
    await fx.cleanup();
  });

  /** containerd with every path under dir and the CRI plugin (with its own CNI config watcher) off. */
  function containerdConfig(dir: string): string {
    return [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${dir}/ctrd.sock"`,
      '[ttrpc]',
      `  address = "${dir}/ctrd.sock.ttrpc"`,
      '',
    ].join('\n');
  }

  /** containerd in the background, ctr run --rm --cni in the foreground, then containerd stopped by its PID. */
  function ctrRun(): Promise<unknown> {
    const c = `ctr -a ${ctrd}/ctrd.sock -n ${ns}`;
    const script = [
      privateMountPrelude(fx.prefix, [{ source: join(fx.tmp, 'net.d'), target: '/etc/cni/net.d' }]),
      `mount -t tmpfs ${fx.prefix} /opt`,
      'mkdir -p /opt/cni/bin',
      `cp ${fx.tmp}/cnibin/palisade-cni /opt/cni/bin/`,
      `containerd --config ${ctrd}/config.toml > ${ctrd}/containerd.log 2>&1 &`,
      'pid=$!',
      'i=0',
      `until ${c} version > /dev/null 2>&1; do`,
      `  i=$((i+1)); [ $i -lt 100 ] || { cat ${ctrd}/containerd.log >&2; exit 1; }; sleep 0.1`,
      'done',
      `${c} run --rm --cni --mount type=bind,src=${ctl},dst=/ctl,options=rbind:rw --env PATH=/bin ` +
        `--rootfs ${fx.tmp}/rootfs ${id} /bin/sh -c '${reportScript(NODE_IP)}'`,
      'kill $pid',
      'wait $pid || true',
    ].join('\n');
    return runner.run(isolatedShell(script, 45), { netns: nodeNs });
  }

  it('wires the container (10.244.9.x/32, default via 169.254.1.1), routes both ways, and DEL undoes it', async () => {
    const netnsBefore = listNetns();
    const hostBefore = snapshotDirs(HOST_PATHS);
    run = ctrRun();
    const report = await awaitReport(run, ctl, 'ctr');
    const podIp = assertContainerWired(report, NODE_IP);
    assert.match(report, /default via 169\.254\.1\.1 dev eth0/, report);
    assert.match(report, /NODE-PING-OK/, `the container could not ping the node at ${NODE_IP}:\n${report}`);

    // ctr passes CNI_CONTAINERID as "<namespace>-<id>"; the host veth is named after it.
    const hostVeth = hostVethName(`${ns}-${id}`, 'eth0');
    await assertNodeSide({ nodeNs, hostVeth, podIp, ipamDir, network: net });
    assert.deepEqual(listNetns().sort(), netnsBefore.sort());

    // The task exits; ctr then calls DEL with an empty CNI_NETNS (the netns died with the task).
    writeFileSync(join(ctl, 'go'), '');
    await run;
    assert.deepEqual(await palLinks(nodeNs), [], 'the host veth outlived the container');
    assert.deepEqual(
      reservations(ipamDir, net),
      [],
      'the address is still reserved after ctr removed the task',
    );
    assert.deepEqual(snapshotDirs(HOST_PATHS), hostBefore, 'ctr or containerd changed a host path');
  });
});
