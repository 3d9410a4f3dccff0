// The kernel's `inet palisade` table as nft itself lists it, for comparing two namespaces: nft's own decoding of
// what the kernel holds, independent of how it was written (a script through nft or libnftables, or netlink).
import { runner } from './netns.js';

type Obj = Record<string, unknown>;
const byJson = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));

/** nft inside a test namespace; never the root namespace (an empty netns would mean the root one). */
export function nftIn(prefix: string, netns: string, ...args: string[]) {
  if (!netns.startsWith(`/run/netns/${prefix}-`)) throw new Error(`not a test namespace: "${netns}"`);
  return runner.run(['nft', ...args], { netns });
}

/** The table without handles: sets and maps with sorted elements, chains, each chain's rules in order. */
export async function kernelTable(prefix: string, netns: string, table = 'palisade'): Promise<unknown> {
  const { stdout } = await nftIn(prefix, netns, '-j', 'list', 'table', 'inet', table);
  const out = { sets: {} as Obj, maps: {} as Obj, chains: {} as Obj, rules: {} as Record<string, unknown[]> };
  for (const o of (JSON.parse(stdout) as { nftables: Record<string, Obj>[] }).nftables) {
    const [kind, body] = Object.entries(o)[0]!;
    const { handle: _, elem, ...rest } = body;
    const name = String(rest.name);
    if (kind === 'set') out.sets[name] = { ...rest, elem: [...((elem as unknown[]) ?? [])].sort(byJson) };
    if (kind === 'map') out.maps[name] = { ...rest, elem: [...((elem as unknown[]) ?? [])].sort(byJson) };
    if (kind === 'chain') out.chains[name] = rest;
    if (kind === 'rule') out.rules[String(rest.chain)] = [...(out.rules[String(rest.chain)] ?? []), rest];
  }
  // nft 1.0.6 leaves chain comments out of its JSON; the text listing has them.
  const { stdout: text } = await nftIn(prefix, netns, '-t', 'list', 'table', 'inet', table);
  const comments = [...text.matchAll(/^\tchain (\S+) \{\n\t\tcomment "([^"]*)"/gm)].map((m) => [m[1], m[2]]);
  return { ...out, comments: comments.sort() };
}
