// A real container runtime calls palisade-cni: podman (runc, CNI backend, Debian's package) runs a busybox
// container on a palisade network, all inside a "node" netns of the test's own and a private mount namespace
// (see helpers/runtime.ts), so neither the host's network nor its /run, /var/lib or /etc/cni is touched.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  podmanContainersConf,
  privateMountPrelude,
  removeCgroup,
  reportScript,
  snapshotDirs,
  which,
} from './helpers/runtime.js';

const NODE_IP = '10.250.0.1';
const SUBNET = '10.244.9.0/24';
const podman = which('podman');
/** Fixed paths podman writes to when not isolated; the test checks they are as they were. */
const HOST_PATHS = [
  '/etc/cni/net.d',
  '/run/libpod',
  '/run/runc',
  '/var/lib/containers',
  '/var/lib/cni',
  '/dev/shm/libpod_lock',
];
const skip = podman ? false : 'podman is not installed (Debian package podman; scripts/setup.sh installs it)';

describe('podman runs a container on a palisade-cni network', { skip }, () => {
  const fx = createFixture('prt');
  const net = `${fx.prefix}net`;
  const ipamDir = join(fx.tmp, 'ipam');
  const ctl = join(fx.tmp, 'ctl');
  let nodeNs = '';
  let run: Promise<unknown> | undefined;

  before(async () => {
    ensureBuilt();
    nodeNs = await fx.netns('node');
    // The node's own address, which the pod pings through its host veth (this kernel has no dummy driver).
    await runner.run(['ip', 'addr', 'add', `${NODE_IP}/32`, 'dev', 'lo'], { netns: nodeNs });
    const binDir = join(fx.tmp, 'cnibin');
    const confDir = join(fx.tmp, 'net.d');
    for (const d of [binDir, confDir, ipamDir, ctl]) mkdirSync(d, { recursive: true });
    copyFileSync(join(REPO, 'dist', 'palisade-cni'), join(binDir, 'palisade-cni'));
    const conflist = {
      cniVersion: '1.0.0',
      name: net,
      plugins: [
        { type: 'palisade-cni', mtu: 1500, ipam: { type: 'palisade', subnet: SUBNET, dataDir: ipamDir } },
      ],
    };
    writeFileSync(join(confDir, `10-${net}.conflist`), JSON.stringify(conflist));
    writeFileSync(join(fx.tmp, 'containers.conf'), podmanContainersConf({ confDir, binDirs: [binDir] }));
    buildBusyboxRootfs(fx.tmp);
  });

  after(async () => {
    if (existsSync(ctl)) writeFileSync(join(ctl, 'go'), ''); // let a container still waiting exit by itself
    await run?.catch(() => undefined);
    removeCgroup(fx.prefix);
    await fx.cleanup();
  });

  /** One `podman run --rm` (import first) in the node netns and a private mount namespace. */
  function podmanRun(): Promise<unknown> {
    const g = `--root ${fx.tmp}/podman/root --runroot ${fx.tmp}/podman/run --storage-driver overlay`;
    const image = `localhost/${fx.prefix}busybox:latest`;
    const script = [
      privateMountPrelude(fx.prefix),
      `podman ${g} import -q ${fx.tmp}/rootfs.tar ${image} >/dev/null`,
      `exec podman ${g} run --rm --network ${net} --cgroup-parent /${fx.prefix} --cidfile ${ctl}/cid ` +
        `-v ${ctl}:/ctl ${image} sh -c '${reportScript(NODE_IP)}'`,
    ].join('\n');
    const env = { ...process.env, CONTAINERS_CONF: join(fx.tmp, 'containers.conf') };
    return runner.run(isolatedShell(script, 45), { netns: nodeNs, env });
  }

  it('wires the container (10.244.9.x/32, default via 169.254.1.1), routes both ways, and DEL undoes it', async () => {
    const netnsBefore = listNetns();
    const hostBefore = snapshotDirs(HOST_PATHS);
    run = podmanRun();
    const report = await awaitReport(run, ctl, 'podman');
    const podIp = assertContainerWired(report, NODE_IP);
    assert.match(report, /default via 169\.254\.1\.1 dev eth0/, report);
    assert.match(report, /NODE-PING-OK/, `the container could not ping the node at ${NODE_IP}:\n${report}`);

    // On the node, while the container runs: the host veth named after podman's container ID, the host route,
    // the reservation, and the node reaching the pod.
    const cid = readFileSync(join(ctl, 'cid'), 'utf8').trim();
    const hostVeth = hostVethName(cid, 'eth0');
    await assertNodeSide({ nodeNs, hostVeth, podIp, ipamDir, network: net });
    // The runtime's netns files stayed in the private mount namespace; the host's network is untouched.
    assert.deepEqual(listNetns().sort(), netnsBefore.sort());
    const { stdout: rootLinks } = await runner.run(['ip', '-o', 'link', 'show']);
    assert.doesNotMatch(rootLinks, /^\d+: pal/m, 'a pod veth appeared in the root netns');

    // Let the container exit: `run --rm` tears down through CNI DEL before podman returns.
    writeFileSync(join(ctl, 'go'), '');
    await run;
    assert.deepEqual(await palLinks(nodeNs), [], 'the host veth outlived the container');
    assert.deepEqual(
      reservations(ipamDir, net),
      [],
      'the address is still reserved after podman removed the container',
    );
    const { stdout: routesAfter } = await runner.run(['ip', '-4', 'route'], { netns: nodeNs });
    assert.doesNotMatch(routesAfter, new RegExp(podIp.replaceAll('.', '\\.')));
    assert.deepEqual(snapshotDirs(HOST_PATHS), hostBefore, 'podman wrote to a host path');
  });
});
