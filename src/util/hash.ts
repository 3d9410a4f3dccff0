// Small non-cryptographic hashes for stable names (netns, veth, MAC). Pure, and free of node:crypto, whose
// OpenSSL start-up costs the short-lived CNI plugin ~5 ms per call.

const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** FNV-1a, 32 bits, as 8 hex digits. */
export function fnv1a32(text: string): string {
  let h = FNV32_OFFSET;
  for (const b of utf8(text)) {
    h ^= b;
    h = Math.imul(h, FNV32_PRIME) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * FNV-1a, 64 bits, as 16 hex digits. Computed on two 32-bit halves in doubles (exact: no intermediate exceeds
 * 2^42), about 2.5x faster than bigint (the compiler hashes every shared set's content key).
 */
export function fnv1a64(text: string): string {
  // h = hi * 2^32 + lo; prime = 2^40 + 0x1b3, so h * prime = h * 0x1b3 + (lo << 40) mod 2^64.
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (const b of utf8(text)) {
    lo = (lo ^ b) >>> 0;
    const l = lo * 0x1b3;
    const carry = Math.floor(l / 0x100000000);
    const h = hi * 0x1b3 + carry + ((lo << 8) >>> 0);
    lo = l >>> 0;
    hi = h % 0x100000000;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
