// Which links the node has, for the HostEndpoints that name an interface (host-report.ts: InterfacePresent,
// InterfaceNotFound). The links are listed when the node's named interfaces change (seen at each sync) and
// every `intervalMs` while there are any, and reported when the listing differs from the last one. A listing
// that fails is logged and reported as unknown (no condition is decided from it).
import type { HostEndpoint } from '../model/host-endpoint.js';
import { coversAllInterfaces } from '../model/host-endpoint.js';
import type { Logger } from '../util/log.js';

export interface InterfaceCheckOptions {
  readonly node: string;
  /** Lists the node's link names (rejects when it cannot). */
  readonly list: () => Promise<readonly string[]>;
  readonly intervalMs: number;
  /** The links as now known (undefined: not known). */
  readonly onLinks: (links: readonly string[] | undefined) => void;
  readonly log: Logger;
}

export interface InterfaceCheck {
  /** The HostEndpoints of a sync's snapshot (all nodes'): lists the links when this node's interfaces changed. */
  saw(hostEndpoints: readonly HostEndpoint[]): void;
  /** The links as last listed (undefined: never, or the last listing failed). */
  readonly links: readonly string[] | undefined;
  stop(): void;
}

/** The interfaces the node's HostEndpoints name (not "*"), sorted, as one key. */
export function namedInterfaces(node: string, heps: readonly HostEndpoint[]): string {
  const names = heps
    .filter((h) => h.node === node && h.interfaceName !== undefined && !coversAllInterfaces(h))
    .map((h) => h.interfaceName!);
  return [...new Set(names)].sort().join('\n');
}

const sameLinks = (a: readonly string[] | undefined, b: readonly string[] | undefined) =>
  a === b || (!!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]));

export function createInterfaceCheck(opts: InterfaceCheckOptions): InterfaceCheck {
  const log = opts.log.child({ component: 'host-interfaces' });
  let named: string | undefined;
  let links: readonly string[] | undefined;
  let listing: Promise<void> | undefined;
  let again = false;
  let stopped = false;

  const list = async (): Promise<void> => {
    let next: readonly string[] | undefined;
    try {
      next = [...(await opts.list())].sort();
    } catch (err) {
      log.warn({ err }, 'could not list the links; interfaces are reported as unknown');
    }
    if (stopped || sameLinks(links, next)) return;
    links = next;
    opts.onLinks(links);
  };
  /** One listing at a time; a request during one runs one more after it. */
  const check = () => {
    if (stopped) return;
    if (listing) {
      again = true;
      return;
    }
    listing = list().finally(() => {
      listing = undefined;
      if (again) {
        again = false;
        check();
      }
    });
  };
  const timer = setInterval(() => {
    if (named) check();
  }, opts.intervalMs);
  timer.unref();

  return {
    saw(heps) {
      const now = namedInterfaces(opts.node, heps);
      if (now === named) return;
      named = now;
      if (now !== '') check();
    },
    get links() {
      return links;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
