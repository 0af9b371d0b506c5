// Who may use /__erulb__/: a list of CIDRs (ELB_ADMIN_ALLOW), IPv4 and IPv6.
import * as bit from "bit";

export interface Cidr {
  text: string;
  bytes: number[];
  bits: number;
}

function parseIPv4(s: string): number[] | undefined {
  const [a, b, c, d] = string.match(s, "^(%d+)%.(%d+)%.(%d+)%.(%d+)$");
  if (a === undefined) return undefined;
  const out: number[] = [];
  for (const part of [a, b!, c!, d!]) {
    const n = tonumber(part)!;
    if (n > 255 || part.length > 3) return undefined;
    out.push(n);
  }
  return out;
}

function parseGroups(s: string): number[] | undefined {
  const out: number[] = [];
  if (s === "") return out;
  for (const [g] of string.gmatch(s + ":", "([^:]*):")) {
    const [ok] = string.match(g, "^%x%x?%x?%x?$");
    if (ok === undefined) return undefined;
    out.push(tonumber(g, 16)!);
  }
  return out;
}

function parseIPv6(s: string): number[] | undefined {
  let text = s;
  let tail: number[] = [];
  // an embedded IPv4 tail, as in ::ffff:127.0.0.1
  const [head, v4] = string.match(text, "^(.*:)(%d+%.%d+%.%d+%.%d+)$");
  if (head !== undefined) {
    const four = parseIPv4(v4!);
    if (four === undefined) return undefined;
    tail = four;
    text = head + "0:0";
  }
  const [dbl] = string.find(text, "::", 1, true);
  let groups: number[] | undefined;
  if (dbl !== undefined) {
    const left = parseGroups(string.sub(text, 1, dbl - 1));
    const right = parseGroups(string.sub(text, dbl + 2));
    if (left === undefined || right === undefined || left.length + right.length > 7) return undefined;
    groups = left;
    for (let i = left.length + right.length; i < 8; i++) groups.push(0);
    for (const g of right) groups.push(g);
  } else {
    groups = parseGroups(text);
    if (groups === undefined || groups.length !== 8) return undefined;
  }
  const out: number[] = [];
  for (const g of groups) {
    out.push(bit.rshift(g, 8));
    out.push(bit.band(g, 255));
  }
  if (tail.length === 4) {
    for (let i = 0; i < 4; i++) out[12 + i] = tail[i];
  }
  return out;
}

/** The address as bytes (4 for IPv4, 16 for IPv6), or undefined. */
export function parseIp(s: string): number[] | undefined {
  if (string.find(s, ":", 1, true)[0] !== undefined) return parseIPv6(s);
  return parseIPv4(s);
}

export function parseCidrList(spec: string): LuaMultiReturn<[Cidr[], undefined] | [undefined, string]> {
  const out: Cidr[] = [];
  for (const [item] of string.gmatch(spec, "[^,%s]+")) {
    const [addr, len] = string.match(item, "^([^/]+)/?(%d*)$");
    const bytes = addr === undefined ? undefined : parseIp(addr);
    if (bytes === undefined) return $multi(undefined, `"${item}" is not an address or CIDR`);
    const max = bytes.length * 8;
    const bits = len === undefined || len === "" ? max : tonumber(len)!;
    if (bits > max) return $multi(undefined, `"${item}": prefix length over ${max}`);
    out.push({ text: item, bytes, bits });
  }
  return $multi(out, undefined);
}

function inCidr(ip: number[], c: Cidr): boolean {
  if (ip.length !== c.bytes.length) return false;
  let left = c.bits;
  for (let i = 0; i < ip.length && left > 0; i++) {
    const take = left >= 8 ? 8 : left;
    const mask = bit.band(bit.lshift(255, 8 - take), 255);
    if (bit.band(ip[i], mask) !== bit.band(c.bytes[i], mask)) return false;
    left -= take;
  }
  return true;
}

export function allowed(remote: string, list: Cidr[]): boolean {
  const ip = parseIp(remote);
  if (ip === undefined) return false;
  // an IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is checked as IPv4 too
  if (ip.length === 16 && ip[10] === 255 && ip[11] === 255 && ip[0] === 0 && ip[9] === 0) {
    const v4 = [ip[12], ip[13], ip[14], ip[15]];
    for (const c of list) if (inCidr(v4, c)) return true;
  }
  for (const c of list) if (inCidr(ip, c)) return true;
  return false;
}
