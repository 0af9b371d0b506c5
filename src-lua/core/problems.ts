// Validation problems: what is wrong and where, the `where` being a JSON pointer into the
// request body (RFC 6901), e.g. /localhost/rules/r1/args/pattern.

import { isArray, isObject } from "./json-shape";

export interface Problem {
  path: string;
  error: string;
}

export function pointer(base: string, segment: string | number): string {
  let s = `${segment}`;
  if (s.indexOf("~") >= 0 || s.indexOf("/") >= 0) {
    s = s.split("~").join("~0").split("/").join("~1");
  }
  return `${base}/${s}`;
}

/** What a JSON value is, for messages like "must be a string, got a number". */
export function describe(v: unknown): string {
  const t = typeof v;
  if (t === "string" || t === "number" || t === "boolean") return `a ${t}`;
  if (t !== "object" || v === null) return "null"; // JS null, or cjson.null (a userdata) in Lua
  const arr = isArray(v);
  const obj = isObject(v);
  if (arr && obj) return "an empty object or array"; // Lua cannot tell them apart
  return arr ? "an array" : "an object";
}
