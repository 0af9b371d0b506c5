// IPv4 and IPv6 addresses and CIDR blocks, the same in both runtimes: the `ip` rule and the
// admin allow-list (ELB_ADMIN_ALLOW). Every address is held as 16 bytes, an IPv4 one as
// ::ffff:a.b.c.d, so an IPv4 block also matches a client seen as an IPv4-mapped IPv6 address;
// an IPv6 block never matches a plain IPv4 client. Plain Lua (the access phase parses the
// client address per request into a reused array): strings are read through the byteAt and sub
// the caller passes (string.byte and string.sub in Lua).
import { ByteAt, Text } from "./text";

export interface Cidr {
  /** 4 or 6 */
  family: number;
  /** 16 bytes; an IPv4 block as ::ffff:a.b.c.d */
  bytes: number[];
  /** the prefix length over the 16 bytes: an IPv4 /8 is 104 */
  bits: number;
}

const DIV = [256, 128, 64, 32, 16, 8, 4, 2, 1];
const groups: number[] = [0, 0, 0, 0, 0, 0, 0, 0];

function digit(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : -1;
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** the value of the digits readRun read */
let runValue = 0;

/** Reads up to `max` digits of base 10 or 16 from s[i..to]; returns how many (their value in runValue). */
function readRun(s: string, i: number, to: number, byteAt: ByteAt, base: number, max: number): number {
  let v = 0;
  let n = 0;
  while (i + n <= to && n < max) {
    const c = byteAt(s, i + n);
    const d = base === 16 ? hex(c) : digit(c);
    if (d < 0) break;
    v = v * base + d;
    n = n + 1;
  }
  runValue = v;
  return n;
}

/** a.b.c.d in s[from..to] into out[at..at+3]; false when it is not one. */
function parse4(s: string, from: number, to: number, byteAt: ByteAt, out: number[], at: number): boolean {
  let i = from;
  for (let part = 0; part < 4; part++) {
    const n = readRun(s, i, to, byteAt, 10, 4);
    if (n === 0 || n > 3 || runValue > 255) return false;
    out[at + part] = runValue;
    i = i + n;
    if (part < 3) {
      if (i > to || byteAt(s, i) !== 46) return false;
      i = i + 1;
    }
  }
  return i > to;
}

/** where parse6 found "::": the number of groups before it, -1 when none */
let gap = -1;

/** The groups of an IPv6 address in s[from..to] into `groups` (and `gap`): their count, or -1 when invalid. */
function parse6(s: string, from: number, to: number, byteAt: ByteAt, v4: number[]): number {
  let n = 0;
  gap = -1;
  let i = from;
  if (i + 1 <= to && byteAt(s, i) === 58 && byteAt(s, i + 1) === 58) {
    gap = 0;
    i = i + 2;
  } else if (i <= to && byteAt(s, i) === 58) {
    return -1;
  }
  while (i <= to) {
    const digits = readRun(s, i, to, byteAt, 16, 5);
    const v = runValue;
    let j = i + digits;
    if (j <= to && byteAt(s, j) === 46) {
      // an IPv4 tail, as in ::ffff:10.0.0.1: two groups
      if (n > 6 || !parse4(s, i, to, byteAt, v4, 0)) return -1;
      groups[n] = v4[0] * 256 + v4[1];
      groups[n + 1] = v4[2] * 256 + v4[3];
      return n + 2;
    }
    if (digits === 0 || digits > 4 || n >= 8) return -1;
    groups[n] = v;
    n = n + 1;
    if (j > to) return n;
    if (byteAt(s, j) !== 58) return -1;
    j = j + 1;
    if (j <= to && byteAt(s, j) === 58) {
      if (gap >= 0) return -1;
      gap = n;
      j = j + 1;
    } else if (j > to) {
      return -1; // a trailing single ':'
    }
    i = j;
  }
  return n;
}

const v4scratch: number[] = [0, 0, 0, 0];

/**
 * Parses the address in s[from..to] (1-based, inclusive) into out[0..15]; returns 4 or 6, or 0
 * when it is not an address.
 */
export function parseIpIn(s: string, from: number, to: number, byteAt: ByteAt, out: number[]): number {
  if (to < from) return 0;
  let colon = false;
  for (let i = from; i <= to && !colon; i++) if (byteAt(s, i) === 58) colon = true;
  if (!colon) {
    if (!parse4(s, from, to, byteAt, out, 12)) return 0;
    for (let i = 0; i < 10; i++) out[i] = 0;
    out[10] = 255;
    out[11] = 255;
    return 4;
  }
  const n = parse6(s, from, to, byteAt, v4scratch);
  if (n < 0 || (gap < 0 && n !== 8) || (gap >= 0 && n > 7)) return 0;
  let k = 0;
  const head = gap < 0 ? n : gap;
  for (let g = 0; g < head; g++) {
    out[k] = Math.floor(groups[g] / 256);
    out[k + 1] = groups[g] % 256;
    k = k + 2;
  }
  for (let z = n; z < 8; z++) {
    out[k] = 0;
    out[k + 1] = 0;
    k = k + 2;
  }
  for (let g = head; g < n; g++) {
    out[k] = Math.floor(groups[g] / 256);
    out[k + 1] = groups[g] % 256;
    k = k + 2;
  }
  return 6;
}

/** The whole of s as an address (see parseIpIn). */
export function parseIp(s: string, byteAt: ByteAt, out: number[]): number {
  return parseIpIn(s, 1, s.length, byteAt, out);
}

/** A block "addr/len" or a bare address (one address) in s[from..to]; undefined when invalid. */
export function parseCidrIn(s: string, from: number, to: number, byteAt: ByteAt): Cidr | undefined {
  let slash = -1;
  for (let i = from; i <= to && slash < 0; i++) if (byteAt(s, i) === 47) slash = i;
  const bytes: number[] = [];
  for (let i = 0; i < 16; i++) bytes.push(0);
  const family = parseIpIn(s, from, slash < 0 ? to : slash - 1, byteAt, bytes);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    if (slash === to || to - slash > 3 || readRun(s, slash + 1, to, byteAt, 10, 3) !== to - slash) return undefined;
    len = runValue;
    if (len > max) return undefined;
  }
  return { family, bytes, bits: family === 4 ? len + 96 : len };
}

export function parseCidr(s: string, byteAt: ByteAt): Cidr | undefined {
  return parseCidrIn(s, 1, s.length, byteAt);
}

/** Whether the address in addr (16 bytes, of `family` 4 or 6) is in block c. */
export function inCidr(c: Cidr, family: number, addr: number[]): boolean {
  if (c.family === 6 && family === 4) return false;
  const bytes = c.bytes;
  let left = c.bits;
  let i = 0;
  while (left >= 8) {
    if (addr[i] !== bytes[i]) return false;
    i = i + 1;
    left = left - 8;
  }
  if (left > 0) {
    const div = DIV[left];
    if (Math.floor(addr[i] / div) !== Math.floor(bytes[i] / div)) return false;
  }
  return true;
}

/** Whether the address is in any of the blocks. */
export function inAny(list: Cidr[], family: number, addr: number[]): boolean {
  for (const c of list) if (inCidr(c, family, addr)) return true;
  return false;
}

const remoteBytes: number[] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/** Whether the address text `remote` is in any of the blocks (false when it is not an address, e.g. "unix:"). */
export function allowed(remote: string, list: Cidr[], byteAt: ByteAt): boolean {
  const family = parseIp(remote, byteAt, remoteBytes);
  return family !== 0 && inAny(list, family, remoteBytes);
}

/** A list of blocks separated by commas and/or spaces (ELB_ADMIN_ALLOW), or what is wrong with it. */
export function parseCidrList(spec: string, text: Text): Cidr[] | string {
  const out: Cidr[] = [];
  const n = spec.length;
  let i = 1;
  while (i <= n) {
    const c = text.byteAt(spec, i);
    if (c === 44 || c === 32 || c === 9 || c === 10 || c === 13) {
      i = i + 1;
      continue;
    }
    let j = i;
    while (j <= n) {
      const d = text.byteAt(spec, j);
      if (d === 44 || d === 32 || d === 9 || d === 10 || d === 13) break;
      j = j + 1;
    }
    const cidr = parseCidrIn(spec, i, j - 1, text.byteAt);
    if (cidr === undefined) return `"${text.sub(spec, i, j - 1)}" is not an IPv4 or IPv6 address or CIDR block`;
    out.push(cidr);
    i = j;
  }
  return out;
}
