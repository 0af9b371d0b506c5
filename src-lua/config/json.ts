// JSON in Lua: cjson with the decoded-shape rules core/ validation needs (cjson decodes both
// {} and [] to an empty table, so an empty table passes as either), installed for core/ with
// the PCRE check and OpenSSL's X.509 (tls/x509.ts) as the engine's host (core/host.ts). Only
// JSON as RFC 8259 defines it is decoded, from the API and from etcd alike: cjson's NaN,
// Infinity and hex numbers are off, the text must be UTF-8, numbers are JSON's ("1." and "01"
// are not), a string must not hold a raw control character; an empty array is told from an
// empty object.
import * as cjson from "cjson.safe";
import { Decoded, useHost } from "../core/host";
import { useJsonShape } from "../core/json-shape";
import { checkKey, issued, readCertificate } from "../tls/x509";
import { pcreCheck } from "./regex";

cjson.decode_invalid_numbers(false);

/** The metatables of an empty array and an empty object, which cjson decodes alike. */
const EMPTY_ARRAY = {};
const EMPTY_OBJECT = {};

function isArray(this: void, v: unknown): boolean {
  return type(v) === "table" && (rawget(v as unknown[], 1 as any) !== undefined || (next(v as LuaTable)[0] === undefined && getmetatable(v) !== EMPTY_OBJECT));
}

function isObject(this: void, v: unknown): boolean {
  return type(v) === "table" && rawget(v as unknown[], 1 as any) === undefined && getmetatable(v) !== EMPTY_ARRAY;
}

function decodeJson(this: void, text: string): Decoded {
  const [value, error] = decode(text);
  return { value, error };
}

/** Inside nginx, its cached clock; under plain LuaJIT (busted), the C library's. */
function now(this: void): number {
  const n = rawget(_G, "ngx" as any) as Ngx | undefined;
  return n !== undefined ? n.now() : os.time();
}

export function install(): void {
  useJsonShape({ isArray, isObject });
  useHost({ decodeJson, encodeJson: encode, checkRegex: pcreCheck, readCertificate, checkKey, issued, now });
}

/** Whether `tok` (a run of letters, digits, ".", "+", "-" outside strings) is a JSON literal or number. */
function jsonToken(tok: string): boolean {
  if (tok === "true" || tok === "false" || tok === "null") return true;
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  by hand: Lua patterns have no alternation
  let [, e] = string.find(tok, "^%-?");
  let i = e! + 1;
  if (string.sub(tok, i, i) === "0") i += 1;
  else {
    const [, d] = string.find(tok, "^[1-9]%d*", i);
    if (d === undefined) return false;
    i = d + 1;
  }
  if (string.sub(tok, i, i) === ".") {
    const [, d] = string.find(tok, "^%d+", i + 1);
    if (d === undefined) return false;
    i = d + 1;
  }
  const c = string.sub(tok, i, i);
  if (c === "e" || c === "E") {
    const [, d] = string.find(tok, "^[%+%-]?%d+", i + 1);
    if (d === undefined) return false;
    i = d + 1;
  }
  return i === tok.length + 1;
}

/** Checks the text outside strings, from `from` to `to`: tokens, and where "[ ]" stands. */
function checkBetween(text: string, from: number, to: number, empties: number[]): string | undefined {
  if (to < from) return undefined;
  const part = string.sub(text, from, to);
  for (const [tok] of string.gmatch(part, "[%w%.%+%-]+")) {
    if (!jsonToken(tok)) return `"${string.sub(tok, 1, 20)}" is not a JSON value (a number is like -1.5e3; NaN and Infinity are not JSON)`;
  }
  for (const pattern of ["%[%s*%]", "{%s*}"]) {
    let at = 1;
    for (;;) {
      const [a, b] = string.find(part, pattern, at);
      if (a === undefined) break;
      empties.push(from + a - 1, from + b! - 1);
      at = b! + 1;
    }
  }
  return undefined;
}

/**
 * Why `text` is not JSON as RFC 8259 has it where cjson is lenient (a raw control character in
 * a string, a number like "1." or "01", NaN), or undefined; `empties` gets the start and end
 * of every empty array "[]" (cjson decodes it like "{}").
 */
function scan(text: string, empties: number[]): string | undefined {
  let i = 1;
  for (;;) {
    const [q] = string.find(text, '["%c]', i);
    const stop = q === undefined ? text.length + 1 : q;
    const err = checkBetween(text, i, stop - 1, empties);
    if (err !== undefined) return err;
    if (q === undefined) return undefined;
    const c = string.byte(text, q);
    if (c !== 34) {
      // outside strings only whitespace may be a control character (DEL is a control too)
      if (!(c === 9 || c === 10 || c === 13 || c === 127)) return `a control character (byte ${c}) at character ${q}`;
      i = q + 1;
      continue;
    }
    // a string: to its closing quote
    let j = q + 1;
    for (;;) {
      const [p] = string.find(text, '["\\%c]', j);
      if (p === undefined) return undefined; // unterminated: cjson says so
      const d = string.byte(text, p);
      if (d === 34) {
        j = p + 1;
        break;
      }
      if (d === 92) j = p + 2;
      else if (d === 127) j = p + 1;
      else return `a raw control character (byte ${d}) in a string at character ${p}: write it escaped`;
    }
    i = j;
  }
}

/** Stand in for an empty array and object while cjson decodes (an escaped NUL: no key or value of ELB's holds one). */
const ARRAY_MARK = '["\\u0000elb:empty"]';
const OBJECT_MARK = '{"\\u0000elb:empty":true}';
const MARK = "\u0000elb:empty";

/** Whether decode() ever marked an empty array: encode() then looks for them. */
let marked = false;

function markEmpties(v: unknown): unknown {
  marked = true;
  if (type(v) !== "table") return v;
  const t = v as LuaTable<string | number, unknown>;
  if (t.get(1) === MARK && t.get(2) === undefined) return setmetatable({}, EMPTY_ARRAY);
  if (t.get(MARK) === true && next(t, MARK)[0] === undefined && next(t)[0] === MARK) return setmetatable({}, EMPTY_OBJECT);
  for (const [k, x] of t) {
    if (type(x) === "table") t.set(k, markEmpties(x));
  }
  return v;
}

/** A byte outside ASCII; built at run time, as bytes (a literal would be written as UTF-8). */
const HIGH = `[${string.char(128)}-${string.char(255)}]`;

/** Whether `text` is UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
function isUtf8(text: string): boolean {
  let i = 1;
  for (;;) {
    const [p] = string.find(text, HIGH, i);
    if (p === undefined) return true;
    const c = string.byte(text, p);
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return false;
    for (let k = 1; k <= n; k++) {
      const d = string.byte(text, p + k);
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return false;
    }
    i = p + n + 1;
  }
}

/** Why `text` is not JSON text cjson should read, or undefined. */
function notJson(text: string, empties: number[]): string | undefined {
  if (!isUtf8(text)) return "the text is not valid UTF-8";
  return scan(text, empties);
}

export function decode(text: string): LuaMultiReturn<[any, undefined] | [undefined, string]> {
  const empties: number[] = [];
  const why = notJson(text, empties);
  if (why !== undefined) return $multi(undefined, why);
  let source = text;
  if (empties.length > 0) {
    // in the order they stand in the text
    const starts: number[] = [];
    const ends = new LuaTable<number, number>();
    for (let k = 0; k < empties.length; k += 2) {
      starts.push(empties[k]);
      ends.set(empties[k], empties[k + 1]);
    }
    table.sort(starts);
    const parts: string[] = [];
    let at = 1;
    for (const a of starts) {
      parts.push(string.sub(text, at, a - 1), string.sub(text, a, a) === "[" ? ARRAY_MARK : OBJECT_MARK);
      at = ends.get(a)! + 1;
    }
    parts.push(string.sub(text, at));
    source = table.concat(parts);
  }
  const [v, err] = cjson.decode(source);
  if (err !== undefined) return $multi(undefined, err);
  if (empties.length > 0) return $multi(markEmpties(v), undefined);
  return $multi(v, undefined);
}

/** `v` with each marked empty array as the mark's string (written back as [] by encode). */
function unmark(v: unknown): unknown {
  if (type(v) !== "table") return v;
  if (getmetatable(v) === EMPTY_ARRAY) return MARK;
  const out = new LuaTable<string | number, unknown>();
  for (const [k, x] of v as LuaTable<string | number, unknown>) out.set(k, unmark(x));
  return out;
}

/** JSON text of `v`; an empty table is {} (an empty array decoded here, []). Debian's cjson escapes "/" as "\/": undone here
 * (every "/" it writes is escaped, so each "\/" pair is one). */
export function encode(v: unknown): string {
  const [s] = cjson.encode(marked ? unmark(v) : v);
  if (s === undefined) return "null";
  const [text] = string.gsub(s, "\\/", "/");
  return marked ? string.gsub(text, '"\\u0000elb:empty"', "[]")[0] : text;
}

install();
