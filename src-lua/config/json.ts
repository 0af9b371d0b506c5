// JSON in Lua: cjson with the decoded-shape rules core/ validation needs (cjson decodes both
// {} and [] to an empty table, so an empty table passes as either), installed for core/ with
// the PCRE check as the engine's host (core/host.ts). Only JSON as RFC 8259 defines it is
// decoded, from the API and from etcd alike: cjson's NaN, Infinity and hex numbers are off,
// the text must be UTF-8, and a string must not hold a raw control character.
import * as cjson from "cjson.safe";
import { Decoded, useHost } from "../core/host";
import { useJsonShape } from "../core/json-shape";
import { pcreCheck } from "./regex";

cjson.decode_invalid_numbers(false);

/** Marks a document that is an empty array ("[]"), which cjson decodes like "{}". */
const EMPTY_ARRAY = {};

function isArray(this: void, v: unknown): boolean {
  return type(v) === "table" && (rawget(v as unknown[], 1 as any) !== undefined || next(v as LuaTable)[0] === undefined);
}

function isObject(this: void, v: unknown): boolean {
  return type(v) === "table" && rawget(v as unknown[], 1 as any) === undefined && getmetatable(v) !== EMPTY_ARRAY;
}

function decodeJson(this: void, text: string): Decoded {
  const [value, error] = decode(text);
  return { value, error };
}

export function install(): void {
  useJsonShape({ isArray, isObject });
  useHost({ decodeJson, encodeJson: encode, checkRegex: pcreCheck });
}

/** Where a string of `text` holds a raw control character (JSON wants them escaped). */
function rawControl(text: string): number | undefined {
  if (string.find(text, "%c")[0] === undefined) return undefined;
  let i = 1;
  let inString = false;
  for (;;) {
    const [p] = string.find(text, inString ? '["\\%c]' : '["%c]', i);
    if (p === undefined) return undefined;
    const c = string.byte(text, p);
    if (c === 34) {
      inString = !inString;
      i = p + 1;
    } else if (c === 92) {
      i = p + 2;
    } else if (c === 127 || (!inString && (c === 9 || c === 10 || c === 13))) {
      i = p + 1;
    } else {
      return p;
    }
  }
}

/** Why `text` is not JSON text cjson should read, or undefined. */
function notJson(text: string): string | undefined {
  const [, , uerr] = ngx.re.find(text, "^", "u");
  if (uerr !== undefined) return "the text is not valid UTF-8";
  const at = rawControl(text);
  if (at !== undefined) return `a raw control character (byte ${string.byte(text, at)}) at character ${at}: write it escaped`;
  return undefined;
}

export function decode(text: string): LuaMultiReturn<[any, undefined] | [undefined, string]> {
  const why = notJson(text);
  if (why !== undefined) return $multi(undefined, why);
  const [v, err] = cjson.decode(text);
  if (err !== undefined) return $multi(undefined, err);
  // a whole document "[]" is not an object (an empty array inside one stays ambiguous)
  if (type(v) === "table" && next(v)[0] === undefined && string.find(text, "^%s*%[")[0] !== undefined) setmetatable(v, EMPTY_ARRAY);
  return $multi(v, undefined);
}

/** JSON text of `v`; an empty table is {}. Debian's cjson escapes "/" as "\/": undone here
 * (every "/" it writes is escaped, so each "\/" pair is one). */
export function encode(v: unknown): string {
  const [s] = cjson.encode(v);
  if (s === undefined) return "null";
  return string.gsub(s, "\\/", "/")[0];
}

install();
