// The agent's WireGuard controller (issue 12): keeps this node's key (wireguard-keys.ts), publishes its public key
// on its own Node and keeps it published (someone removing or changing the annotation is undone at the next
// sync), and brings the interface's peers to the other nodes' publications (src/model/wireguard.ts). Effects come
// in as two functions (publish to the API, the device), so the decisions are tested without either.
import type { NodeInfo } from '../model/cluster.js';
import {
  formatWireguardAnnotation,
  WIREGUARD_ANNOTATION,
  type WireguardNode,
  type WireguardPeer,
  wireguardPeers,
} from '../model/wireguard.js';
import { loadOrCreateKey } from './wireguard-keys.js';

export interface WireguardTarget {
  apply(peers: readonly WireguardPeer[]): Promise<void>;
}

export interface WireguardControllerOptions {
  readonly node: string;
  readonly keyFile: string;
  readonly listenPort: number;
  /** Writes the annotation's value on this node's Node object. */
  readonly publish: (value: string) => Promise<void>;
  readonly device: WireguardTarget;
  readonly underlay?: 4 | 6;
}

export interface WireguardStatus {
  readonly publicKey: string;
  /** Whether the Node carries our publication as of the last sync. */
  readonly published: boolean;
  readonly peers: readonly WireguardPeer[];
  /** Nodes that are not peers, and why (their pods stay unreachable, never in clear). */
  readonly problems: readonly string[];
  /** Set when the key file was missing or unreadable at start: a new key was made. */
  readonly newKey?: 'missing' | 'unreadable';
}

const asWireguardNode = (n: NodeInfo): WireguardNode => ({
  name: n.name,
  ips: n.ips,
  podCIDRs: n.podCIDRs ?? [],
  annotations: n.wireguard === undefined ? {} : { [WIREGUARD_ANNOTATION]: n.wireguard },
});

export class WireguardController {
  private publication: string;
  private publicKey: string;
  private readonly newKey: 'missing' | 'unreadable' | undefined;
  private last: WireguardStatus;
  private appliedKey = '';

  constructor(private readonly o: WireguardControllerOptions) {
    const key = loadOrCreateKey(o.keyFile);
    this.publicKey = key.publicKey;
    this.newKey = key.created;
    this.publication = formatWireguardAnnotation({ publicKey: key.publicKey, port: o.listenPort });
    this.last = { publicKey: this.publicKey, published: false, peers: [], problems: [], ...this.status0() };
  }

  private status0() {
    return this.newKey ? { newKey: this.newKey } : {};
  }

  /** One pass over the cluster's nodes: our publication in place, the device's peers as theirs say. */
  async sync(nodes: readonly NodeInfo[]): Promise<WireguardStatus> {
    const self = nodes.find((n) => n.name === this.o.node);
    const published = self?.wireguard === this.publication;
    if (self && !published) await this.o.publish(this.publication);
    const { peers, problems } = wireguardPeers(this.o.node, nodes.map(asWireguardNode), this.o.underlay ?? 4);
    const key = JSON.stringify(peers);
    if (key !== this.appliedKey) {
      await this.o.device.apply(peers);
      this.appliedKey = key;
    }
    this.last = {
      publicKey: this.publicKey,
      published,
      peers,
      problems,
      ...this.status0(),
    };
    return this.last;
  }

  /** The public key the controller publishes (from the next sync on, after useKey). */
  get currentKey(): string {
    return this.publicKey;
  }

  /** A new key (a rotation): published at the next sync. */
  useKey(publicKey: string, port: number): void {
    this.publicKey = publicKey;
    this.publication = formatWireguardAnnotation({ publicKey, port });
  }

  /** The device was made anew: the next sync gives it every peer again. */
  forgetDevice(): void {
    this.appliedKey = '';
  }

  get status(): WireguardStatus {
    return this.last;
  }
}
