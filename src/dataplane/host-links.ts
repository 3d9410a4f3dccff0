// The names of a network namespace's links (the agent's: the node's), for reporting a HostEndpoint whose
// interface does not exist. Through route-netlink in this process when the native addon is loaded, else
// `ip -j link show` through the Runner.
import type { NativeAddon } from './native.js';
import { dumpLinks, readLinks } from './netlink/rtnl.js';
import { withSocket } from './netlink/socket.js';
import type { Runner } from './runner.js';

/** The link names of `ip -j link show`'s output; throws when it is not that. */
export function parseIpLinkJson(stdout: string): string[] {
  const out: unknown = JSON.parse(stdout);
  if (!Array.isArray(out)) throw new Error('ip -j link show: not a JSON array');
  return out.flatMap((l: unknown) =>
    typeof l === 'object' && l !== null && typeof (l as { ifname?: unknown }).ifname === 'string'
      ? [(l as { ifname: string }).ifname]
      : [],
  );
}

/** Lists the link names of `netns` (default: this process's). Rejects when they cannot be listed. */
export async function listLinkNames(
  deps: { readonly native?: NativeAddon; readonly runner: Runner },
  netns?: string,
): Promise<string[]> {
  const native = deps.native;
  if (native)
    return withSocket(native, netns, async (s) =>
      readLinks(await s.request('list links', dumpLinks)).map((l) => l.name),
    );
  const { stdout } = await deps.runner.run(['ip', '-j', 'link', 'show'], netns ? { netns } : {});
  return parseIpLinkJson(stdout);
}
