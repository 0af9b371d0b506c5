// A 32-bit string hash with the same result in JS and LuaJIT: FNV-1a, then murmur3's
// finalizer so that keys differing in their last byte land far apart on the chash ring.
// Products are computed in two halves so that doubles stay exact; XOR goes through 32-bit
// integers in both runtimes (signed there, made unsigned here). Plain Lua only (hot path).

import { ByteAt } from "./algorithm";

const TWO32 = 4294967296;

/** (a * b) mod 2^32 for 0 <= a, b < 2^32, exactly. */
function mul32(a: number, b: number): number {
  const hi = Math.floor(a / 65536);
  const lo = a % 65536;
  return ((((hi * b) % TWO32) * 65536) + lo * b) % TWO32;
}

function xor32(a: number, b: number): number {
  const r = a ^ b;
  return r < 0 ? r + TWO32 : r;
}

/** The hash of s, 0 .. 2^32-1; bytes are read with byteAt (string.byte in Lua). */
export function hash32(s: string, byteAt: ByteAt): number {
  let h = 2166136261;
  const n = s.length;
  for (let i = 1; i <= n; i++) h = mul32(xor32(h, byteAt(s, i)), 16777619);
  h = xor32(h, Math.floor(h / 65536));
  h = mul32(h, 0x85ebca6b);
  h = xor32(h, Math.floor(h / 8192));
  h = mul32(h, 0xc2b2ae35);
  h = xor32(h, Math.floor(h / 65536));
  return h;
}
