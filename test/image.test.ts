// The image (image/build.sh, docs/image.md) on a real runtime. podman loads the OCI archive and runs it; then it
// runs the agent exactly as the DaemonSet of `palisade manifests` does (its command, env, capabilities, user and
// mounts, read from the rendered YAML) with a lab node's network namespace as its host network, after the lab's
// own agent for that node was stopped and its table removed: a policy the lab applies there is enforced by the
// container or not at all. podman runs in a netns and a private mount namespace of the test's own
// (helpers/runtime.ts) and never creates a network. Skips only when the image cannot be built here, saying why.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { waitForAgent } from '../src/lab/agents.js';
import { clusterDir } from '../src/lab/cluster-dir.js';
import { nodePaths } from '../src/lab/node-files.js';
import { runsMarker, stopProcess } from '../src/lab/processes.js';
import { createLab, type LabNode } from './helpers/lab.js';
import { createFixture, type Fixture, REPO, runner } from './helpers/netns.js';
import {
  isolatedShell,
  podmanContainersConf,
  privateMountPrelude,
  removeCgroup,
  which,
} from './helpers/runtime.js';

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

/** image/build.sh: the archive; or why it cannot be built here (exit 75, its last line); or how it failed. */
async function buildImage(): Promise<{ archive?: string; skip?: string; error?: Error }> {
  if (!which('podman')) return { skip: 'podman is not installed (Debian package podman; scripts/setup.sh)' };
  try {
    const { stdout, stderr } = await promisify(execFile)('bash', [join(REPO, 'image', 'build.sh')], {
      cwd: REPO,
      timeout: 30 * 60_000,
      maxBuffer: 1 << 24,
    });
    process.stderr.write(`${stderr.trim().split('\n').pop()}\n`); // built in N s, or up to date; the digest
    return { archive: join(REPO, stdout.trim().split('\n').pop() ?? '') };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    if (e.code === 75) return { skip: (e.stderr ?? '').trim().split('\n').pop() };
    return { error: new Error(`image/build.sh failed:\n${(e.stderr ?? String(err)).slice(-3000)}`) };
  }
}
const built = await buildImage();
const archive = built.archive ?? '';

interface Container {
  name: string;
  image: string;
  command: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { fieldRef?: { fieldPath: string }; configMapKeyRef?: { name: string; key: string } };
  }[];
  securityContext: {
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; mountPropagation?: string }[];
}
interface K8sObject {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    template: {
      spec: { containers: Container[]; volumes: { name: string; hostPath: { path: string } }[] };
    };
  };
}

/** What `palisade manifests` renders (defaults): the DaemonSet's agent container, its volumes, the ConfigMaps. */
function renderedAgent() {
  const yaml = execFileSync(process.execPath, [join(REPO, 'bin', 'palisade'), 'manifests'], {
    encoding: 'utf8',
  });
  const objects = parseAllDocuments(yaml).map((d) => d.toJS() as K8sObject);
  const ds = objects.find((o) => o.kind === 'DaemonSet');
  const agent = ds?.spec?.template.spec.containers.find((c) => c.name === 'agent');
  assert.ok(ds?.spec && agent, 'the manifests have a DaemonSet with an agent container');
  const volumes = Object.fromEntries(ds.spec.template.spec.volumes.map((v) => [v.name, v.hostPath.path]));
  const configMaps = Object.fromEntries(
    objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]),
  );
  return { agent, volumes, configMaps };
}

const shq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Runs shell lines with $P = podman on the test's own storage, in the fixture's netns and a private mount and PID
 * namespace (the host's /run, /var/lib, /var/tmp, /dev/shm hidden behind tmpfs; the host's /run/netns kept, for
 * --network ns:PATH). Everything it starts dies with it.
 */
function podmanShell(fx: Fixture, netns: string, lines: readonly string[], limitSeconds: number) {
  const hostNetns = join(fx.tmp, 'host-netns');
  mkdirSync(hostNetns, { recursive: true });
  const script = [
    'set -e',
    `mount --rbind /run/netns ${hostNetns}`,
    privateMountPrelude(fx.prefix),
    `mount --rbind ${hostNetns} /run/netns`,
    `P="podman --root ${fx.tmp}/podman/root --runroot /run/${fx.prefix}-podman --storage-driver overlay"`,
    ...lines,
  ].join('\n');
  const env = { ...process.env, CONTAINERS_CONF: join(fx.tmp, 'containers.conf') };
  return runner.run(isolatedShell(script, limitSeconds), { netns, env });
}

async function podmanSetup(fx: Fixture): Promise<string> {
  if (built.error) throw built.error;
  const netns = await fx.netns('podman');
  for (const d of ['net.d', 'cnibin']) mkdirSync(join(fx.tmp, d), { recursive: true });
  const conf = podmanContainersConf({ confDir: join(fx.tmp, 'net.d'), binDirs: [join(fx.tmp, 'cnibin')] });
  writeFileSync(join(fx.tmp, 'containers.conf'), conf);
  await podmanShell(fx, netns, [`$P load -q -i ${archive}`], 300);
  return netns;
}

describe('the image', { skip: built.skip }, () => {
  const fx = createFixture('pim');
  let netns = '';
  const run = (cmd: string) =>
    podmanShell(fx, netns, [`$P run --rm --network none --cgroup-parent /${fx.prefix} ${cmd}`], 120);

  before(async () => {
    netns = await podmanSetup(fx);
  });
  after(async () => {
    removeCgroup(fx.prefix);
    await fx.cleanup();
  });

  it('podman loads it under the name the manifests give, and it runs `palisade version`', async () => {
    const { image } = renderedAgent().agent;
    const list = [`$P images --format '{{.Repository}}:{{.Tag}}'`];
    const { stdout: names } = await podmanShell(fx, netns, list, 60);
    assert.ok(names.split('\n').includes(image), `loaded: ${names.trim()}; the manifests name ${image}`);
    const { stdout } = await run(`${image} palisade version`);
    assert.equal(stdout.trim(), `palisade ${VERSION}`);
  });

  it('holds nft, ip, conntrack, wg, wireguard-go, charon, swanctl, Node 20, the native addon, and every chunk loads', async () => {
    // Every chunk imported (the Kubernetes client's too, which `version` never loads): a package missing from
    // node_modules fails the import. The addon only when the build had one.
    const check = [
      "import { readdirSync, existsSync } from 'node:fs';",
      "import { createRequire } from 'node:module';",
      "const dir = '/opt/palisade/dist';",
      "for (const f of readdirSync(dir + '/chunks')) await import(dir + '/chunks/' + f);",
      "const addon = dir + '/palisade-native.node';",
      'if (existsSync(addon)) createRequire(import.meta.url)(addon).nftOpen();',
      "console.log('node', process.version, existsSync(addon) ? 'addon-loaded' : 'no-addon');",
    ].join('\n');
    writeFileSync(join(fx.tmp, 'check.mjs'), check);
    const { image } = renderedAgent().agent;
    const { stdout } = await run(
      `-v ${fx.tmp}/check.mjs:/check.mjs:ro ${image} sh -c 'nft --version; ip -V; conntrack --version; wg --version; wireguard-go --version; echo; swanctl --version 2>&1 | grep ^strongSwan; test -x /usr/lib/ipsec/charon && test -f /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so && echo charon-ok; node /check.mjs'`,
    );
    assert.match(stdout, /^nftables v1\.0\.\d/m);
    assert.match(stdout, /^ip utility, iproute2-/m);
    assert.match(stdout, /^conntrack v1\.4\.\d/m);
    assert.match(stdout, /^wireguard-tools v1\./m);
    assert.match(stdout, /^wireguard-go v0\./m);
    assert.match(stdout, /^strongSwan 5\.\d+\.\d+ swanctl$/m);
    assert.match(stdout, /^charon-ok$/m);
    const addon = existsSync(join(REPO, 'dist', 'palisade-native.node')) ? 'addon-loaded' : 'no-addon';
    assert.match(stdout, new RegExp(`^node v20\\.\\d+\\.\\d+ ${addon}$`, 'm'), stdout);
  });
});

const DENY_DB = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: deny-db, namespace: shop }
spec: { podSelector: { matchLabels: { app: db } }, policyTypes: [Ingress] }
`;

/** Capability names by bit (linux/capability.h), for reading a process's CapEff. */
const CAPS = `CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
  NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE
  SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL
  SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE`.split(
  /\s+/,
);

function procStatus(pid: number): Record<string, string> {
  const lines = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n');
  return Object.fromEntries(lines.map((l) => l.split(':\t')).map(([k, v]) => [k, v?.trim() ?? '']));
}

/** PIDs whose command line has every one of `parts`. */
function pidsRunning(parts: readonly string[]): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        return parts.every((p) => argv.includes(p));
      } catch {
        return false; // gone while we looked
      }
    })
    .map(Number);
}

/** The DaemonSet's agent container as `podman run` arguments, on lab node `node` (see the describe below). */
function agentPodmanArgs(labDir: string, node: LabNode, name: string): string[] {
  const { agent, volumes, configMaps } = renderedAgent();
  const sc = agent.securityContext;
  assert.deepEqual(sc.capabilities?.drop, ['ALL'], 'the DaemonSet drops every capability, then adds');
  const env = new Map<string, string>();
  for (const e of agent.env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    if (e.value !== undefined) env.set(e.name, e.value);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env.set(e.name, node.name);
    else if (ref && configMaps[ref.name]?.[ref.key] !== undefined)
      env.set(e.name, configMaps[ref.name]![ref.key]!);
    else assert.fail(`agent env ${e.name}: the test cannot give it a value`);
  }
  // Kubernetes expands $(VAR) in a command from the container's env.
  const command = agent.command.map((a) =>
    a.replace(/\$\(([A-Z0-9_]+)\)/g, (m, v: string) => env.get(v) ?? m),
  );
  // The node's host paths, as the lab lays them out.
  const p = nodePaths(labDir, node.name);
  const hostDirs: Record<string, string> = {
    '/run/palisade': dirname(p.cniSocket),
    '/var/lib/cni/palisade': p.ipamDir,
    '/var/run/netns': '/run/netns',
  };
  const mounts = (agent.volumeMounts ?? []).flatMap((m) => {
    const src = hostDirs[volumes[m.name] ?? ''];
    assert.ok(src, `agent volume ${m.name} (${volumes[m.name]}): no lab path for it in this test`);
    return ['-v', `${src}:${m.mountPath}${m.mountPropagation === 'HostToContainer' ? ':rslave' : ''}`];
  });
  // What differs from a cluster: no API server (the lab's cluster directory, read-only, instead), and the status
  // endpoint on the socket where `lab apply` waits for this node's agent (in the run-palisade mount).
  const runMount = agent.volumeMounts?.find((m) => volumes[m.name] === '/run/palisade')?.mountPath;
  assert.equal(dirname(p.statusSocket), dirname(p.cniSocket));
  const swap = (flag: string, value: string) => {
    const i = command.indexOf(flag);
    assert.ok(i > 0, `the DaemonSet's agent command has ${flag}`);
    command[i + 1] = value;
  };
  swap('--datastore', `dir:${clusterDir(labDir)}`);
  swap('--listen', `unix:${runMount}/agent.sock`);
  return [
    ...['--rm', '--name', name, '--network', `ns:/run/netns/${node.netns}`],
    ...['--user', String(sc.runAsUser ?? 0), '--cap-drop=all'],
    ...(sc.capabilities?.add ?? []).map((c) => `--cap-add=${c}`),
    ...(sc.allowPrivilegeEscalation === false ? ['--security-opt=no-new-privileges'] : []),
    ...[...env].flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    ...mounts,
    ...['-v', `${clusterDir(labDir)}:${clusterDir(labDir)}:ro`],
    agent.image,
    ...command,
  ];
}

describe('the image runs the agent in a lab node as the DaemonSet does, and it enforces policy', {
  skip: built.skip,
}, () => {
  const lab = createLab('pia');
  const fx = lab.fx;
  const stopFile = join(fx.tmp, 'stop-agent');
  const agentLog = join(fx.tmp, 'agent.log');
  let netns = '';
  let agentRun: Promise<unknown> | undefined;

  before(async () => {
    netns = await podmanSetup(fx);
    await lab.up(2, join(REPO, 'examples', 'demo.yaml'));
  });
  after(async () => {
    writeFileSync(stopFile, '');
    await agentRun?.catch((e: unknown) => console.error(e));
    removeCgroup(fx.prefix);
    await lab.down();
  });

  it("enforces a policy on node-2 that only node-2's agent, the container, can enforce", async () => {
    const node = lab.nodes().find((n) => n.name === 'node-2');
    assert.ok(node, 'the lab has node-2');
    const nodeNs = `/run/netns/${node.netns}`;
    assert.equal((await lab.probe('TCP', 80))['shop/web']!['shop/db'], true, 'db is reachable before');

    // The lab's agent for node-2 stops, and its table goes: from now on only the container enforces there.
    const state = JSON.parse(readFileSync(join(lab.dir, 'lab.json'), 'utf8')) as {
      agents: Record<string, number>;
      revision: number;
    };
    const labAgent = state.agents['node-2']!;
    await stopProcess(labAgent, lab.dir);
    await runner.run(['nft', 'delete', 'table', 'inet', 'palisade'], { netns: nodeNs });
    await assert.rejects(runner.run(['nft', 'list', 'table', 'inet', 'palisade'], { netns: nodeNs }));

    const name = `${fx.prefix}-agent`;
    const args = agentPodmanArgs(lab.dir, node, name).map(shq).join(' ');
    agentRun = podmanShell(
      fx,
      netns,
      [
        `$P run --cgroup-parent /${fx.prefix} ${args} > ${agentLog} 2>&1 &`,
        'run=$!',
        `while [ ! -e ${stopFile} ] && kill -0 $run 2>/dev/null; do sleep 0.2; done`,
        `$P stop -t 10 ${name} >/dev/null 2>&1 || true`,
        'wait $run || true',
      ],
      600,
    );
    const log = () => (existsSync(agentLog) ? readFileSync(agentLog, 'utf8').slice(-3000) : '(no log)');
    await waitForAgent(nodePaths(lab.dir, 'node-2').statusSocket, state.revision, 60_000).catch(
      (err: unknown) => {
        throw new Error(`the container's agent did not get ready: ${String(err)}\n${log()}`);
      },
    );

    // The process serving node-2 is the image's agent, with the DaemonSet's capabilities and no more.
    const [pid, ...others] = pidsRunning([
      '/usr/local/bin/palisade',
      'agent',
      `dir:${clusterDir(lab.dir)}`,
      'node-2',
    ]);
    assert.ok(pid && others.length === 0, `one agent of the image runs for node-2 (${[pid, ...others]})`);
    const status = procStatus(pid);
    const eff = BigInt(`0x${status.CapEff}`);
    const caps = CAPS.filter((_, bit) => (eff >> BigInt(bit)) & 1n);
    const granted = renderedAgent().agent.securityContext.capabilities?.add ?? [];
    assert.deepEqual(caps.sort(), [...granted].sort(), `CapEff ${status.CapEff}`);
    assert.equal(status.NoNewPrivs, '1');
    assert.equal(statSync(`/proc/${pid}/ns/net`).ino, statSync(nodeNs).ino, "it runs in node-2's netns");
    assert.equal(runsMarker(labAgent, lab.dir), false, "the lab's own agent for node-2 is gone");

    await lab.applyText(DENY_DB); // returns once every node's agent, so the container for node-2, programmed it
    const m = await lab.probe('TCP', 80);
    for (const src of ['shop/web', 'shop/cart', 'billing/api', 'billing/worker']) {
      assert.equal(m[src]!['shop/db'], false, `${src} -> shop/db is denied, by the container's agent`);
    }
    await lab.agrees('deny-db enforced by the containerized agent', [['TCP', 80]]);
    const { stdout: table } = await runner.run(['nft', 'list', 'table', 'inet', 'palisade'], {
      netns: nodeNs,
    });
    assert.match(table, /np:shop\/deny-db/, 'the table the container programmed names the policy');
  });
});
