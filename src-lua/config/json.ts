// JSON in Lua: cjson with the decoded-shape rules core/ validation needs (cjson decodes both
// {} and [] to an empty table, so an empty table passes as either), installed for core/ with
// the PCRE check and OpenSSL's X.509 (tls/x509.ts) as the engine's host (core/host.ts).
import * as cjson from "cjson.safe";
import { Decoded, useHost } from "../core/host";
import { useJsonShape } from "../core/json-shape";
import { checkKey, issued, readCertificate } from "../tls/x509";
import { pcreCheck } from "./regex";

function isArray(this: void, v: unknown): boolean {
  return type(v) === "table" && (rawget(v as unknown[], 1 as any) !== undefined || next(v as LuaTable)[0] === undefined);
}

function isObject(this: void, v: unknown): boolean {
  return type(v) === "table" && rawget(v as unknown[], 1 as any) === undefined;
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

export function decode(text: string): LuaMultiReturn<[any, undefined] | [undefined, string]> {
  const [v, err] = cjson.decode(text);
  if (err !== undefined) return $multi(undefined, err);
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
