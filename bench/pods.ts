// Pods and servers for the per-packet benchmarks: a pod netns wired to its node the way palisade-cni wires it
// (routed /32, gateway 169.254.1.1 pinned to the host veth's MAC), and servers started inside a netns.
import { type ChildProcess, spawn } from 'node:child_process';
import { GATEWAY_V4, HOST_VETH_MAC } from '../src/dataplane/pod-link-script.js';
import type { Runner } from '../src/dataplane/runner.js';

/** Wires pod netns `podNs` (a path) to `nodeNs` by the veth `hostIf` (node side) / eth0, the pod at `addr`. */
export async function wirePod(
  runner: Runner,
  nodeNs: string,
  podNs: string,
  hostIf: string,
  addr: string,
): Promise<void> {
  const ip = (netns: string, lines: string[]) =>
    runner.run(['ip', '-batch', '-'], { netns, input: `${lines.join('\n')}\n` });
  await ip(nodeNs, [
    `link add ${hostIf} address ${HOST_VETH_MAC} type veth peer name eth0 netns ${podNs.split('/').pop()}`,
    `link set ${hostIf} up`,
    `route add ${addr}/32 dev ${hostIf} scope link`,
  ]);
  await ip(podNs, [
    `addr add ${addr}/32 dev eth0`,
    'link set eth0 up',
    `route add ${GATEWAY_V4}/32 dev eth0 scope link`,
    `route add default via ${GATEWAY_V4} dev eth0`,
    `neigh replace ${GATEWAY_V4} lladdr ${HOST_VETH_MAC} dev eth0 nud permanent`,
  ]);
}

/** A server in a netns, started through nsenter (which execs it: the PID is the server's). */
export function startServer(netns: string, argv: readonly string[], children: ChildProcess[]): Promise<void> {
  const child = spawn('nsenter', [`--net=${netns}`, '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, 300); // iperf3 -s prints its banner late; give both a moment
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdout!.resume();
    child.stderr!.resume();
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited ${code}`)));
  });
}
