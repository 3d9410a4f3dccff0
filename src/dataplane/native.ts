// Loads palisade-native.node (src/dataplane/native/palisade-native.c): route-netlink sockets in any network
// namespace, and libnftables in-process. Absent or unloadable (no libnftables1, a build without gcc), the agent
// and the plugin use `ip` and `nft` processes instead, exactly as before; PALISADE_NATIVE=off forces that.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque libnftables context, bound to one network namespace. */
export type NftHandle = { readonly __nftHandle: unique symbol };

export interface NativeAddon {
  /** A netlink socket (NETLINK_ROUTE, or `protocol` 12: NETLINK_NETFILTER) in `netns` (default: the caller's). */
  netlinkOpen(netns?: string, protocol?: number): number;
  /**
   * Sends `count` requests in one buffer (consecutive sequence numbers, each with an ack) on a worker thread;
   * resolves with the kernel's answers to all of them, up to each one's ack, error or end of dump.
   */
  netlinkExchangeAsync(fd: number, requests: Buffer, count?: number): Promise<Buffer>;
  netlinkClose(fd: number): void;
  nftOpen(netns?: string): NftHandle;
  /** One transaction; resolves with nft's output, rejects with its error text. One run per handle at a time. */
  nftRun(handle: NftHandle, script: string, flags: number): Promise<string>;
  /** Frees the context and its socket now (the finalizer would, at some garbage collection). */
  nftClose(handle: NftHandle): void;
  readonly nftFlags: { readonly json: number; readonly terse: number; readonly handle: number };
}

const ADDON = 'palisade-native.node';

/**
 * Where the addon may be: beside the running bundle (dist/palisade.mjs, or dist/chunks/ when code-split), or the
 * repository's dist/ (tests run src/ through tsx).
 */
function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, ADDON), join(here, '..', ADDON), resolve(here, '..', '..', 'dist', ADDON)];
}

let loaded: { addon?: NativeAddon; why?: string } | undefined;

/** The addon, or undefined with the reason in nativeUnavailableReason(). Loaded once per process. */
export function loadNative(): NativeAddon | undefined {
  if (loaded) return loaded.addon;
  if (process.env.PALISADE_NATIVE === 'off') {
    loaded = { why: 'PALISADE_NATIVE=off' };
    return undefined;
  }
  const path = candidates().find((p) => existsSync(p));
  if (!path) {
    loaded = { why: `${ADDON} not found (looked in ${candidates().join(', ')})` };
    return undefined;
  }
  try {
    loaded = { addon: createRequire(import.meta.url)(path) as NativeAddon };
  } catch (err) {
    loaded = { why: `${path}: ${err instanceof Error ? err.message : String(err)}` };
  }
  return loaded.addon;
}

export function nativeUnavailableReason(): string | undefined {
  loadNative();
  return loaded?.why;
}
