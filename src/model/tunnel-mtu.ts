// What each kind of tunnel between nodes adds to a packet, by the underlay's family, and so the MTU pods get
// (issue 12). Pure.

export type TunnelKind = 'wireguard' | 'ipsec';

/**
 * Bytes a tunnel adds to each packet on an underlay of `family`:
 * - WireGuard: the outer IP header (20 or 40), UDP (8), its own header (type, index, counter: 16) and
 *   authentication tag (16).
 * - IPsec, ESP in UDP with AES-GCM (ipsec-plan.ts): outer IP, UDP (8), ESP header (SPI, sequence: 8), the GCM
 *   IV (8), the ICV (16), the trailer (pad length, next header: 2) and at worst 3 bytes of padding to 4.
 */
export function tunnelOverhead(kind: TunnelKind, family: 4 | 6): number {
  const outer = family === 4 ? 20 : 40;
  return kind === 'wireguard' ? outer + 8 + 32 : outer + 8 + 8 + 8 + 16 + 2 + 3;
}

/**
 * strongSwan's kernel-libipsec (userspace ESP, where the kernel has none) reads packets from its TUN device
 * into a buffer of the device's MTU at creation, fixed at 1400: a larger packet is cut, whatever the device's
 * MTU is set to later. Measured here: 1398-byte pings cross, 1408 do not.
 */
export const LIBIPSEC_MTU = 1400;

/** The MTU pods get: the underlay's less the tunnel's overhead (an IPv6 underlay's when the nodes use both). */
export function podMtu(kind: TunnelKind, underlayMtu: number, underlayFamilies: readonly (4 | 6)[]): number {
  return underlayMtu - Math.max(...underlayFamilies.map((f) => tunnelOverhead(kind, f)));
}
