// How an nftables script reaches the kernel: libnftables in this process (palisade-native.node), or an `nft -f -`
// process through the Runner. Both take the same script text (nft-render.ts, nft-diff.ts), run it as one
// transaction, and fail with a CommandError carrying nft's own message, so callers cannot tell them apart.
import type { NativeAddon, NftHandle } from './native.js';
import { CommandError, type Runner } from './runner.js';

export interface NftOutput {
  /** JSON output (`nft -j`). */
  readonly json?: boolean;
  /** Terse listings, without set and map elements (`nft -t`). */
  readonly terse?: boolean;
}

export interface NftExec {
  readonly kind: 'libnftables' | 'process';
  /** Runs `script` (nft's language, as `nft -f` reads it) as one transaction. */
  run(script: string): Promise<void>;
  /** One command given as words (`list table inet x`), for its output: nft's `nft [-j] [-t] WORDS…`. */
  command(words: readonly string[], output?: NftOutput): Promise<string>;
  /** Releases what the exec holds (libnftables: its context and socket), once its last run has finished. */
  close(): Promise<void>;
}

function outputArgs(output: NftOutput): string[] {
  return [...(output.json ? ['-j'] : []), ...(output.terse ? ['-t'] : [])];
}

/** `nft -f -` and `nft WORDS…` processes in `netns` (a path; the caller's namespace when absent). */
export function processNft(runner: Runner, netns?: string): NftExec {
  return {
    kind: 'process',
    async run(script) {
      await runner.run(['nft', '-f', '-'], { input: script, netns });
    },
    // Not through -f: with -j, nft reads its input file as JSON.
    async command(words, output = {}) {
      return (await runner.run(['nft', ...outputArgs(output), ...words], { netns })).stdout;
    },
    async close() {},
  };
}

/**
 * libnftables bound to `netns`. One context per exec, whose netlink socket stays open between transactions; runs
 * are queued, since a context runs one transaction at a time.
 */
export function libNft(native: NativeAddon, netns?: string): NftExec {
  let handle: NftHandle | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const label = ['nft', '(libnftables)', ...(netns ? [`in ${netns}`] : [])];
  const exec = (script: string, flags: number): Promise<string> => {
    const next = queue.then(async () => {
      handle ??= native.nftOpen(netns);
      try {
        return await native.nftRun(handle, script, flags);
      } catch (err) {
        throw new CommandError(label, 1, err instanceof Error ? err.message : String(err));
      }
    });
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    kind: 'libnftables',
    async run(script) {
      await exec(script, 0);
    },
    command(words, output = {}) {
      const flags = (output.json ? native.nftFlags.json : 0) | (output.terse ? native.nftFlags.terse : 0);
      return exec(`${words.join(' ')}\n`, flags);
    },
    async close() {
      await queue;
      if (handle) native.nftClose(handle);
      handle = undefined;
    },
  };
}

/** libnftables when the addon loaded, else the process. */
export function createNftExec(opts: { runner: Runner; native?: NativeAddon; netns?: string }): NftExec {
  return opts.native ? libNft(opts.native, opts.netns) : processNft(opts.runner, opts.netns);
}
