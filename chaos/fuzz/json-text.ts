// JSON text with the defects a fuzzer needs, which JSON.stringify cannot write: tokens that
// are not JSON numbers (NaN, Infinity, 0x10), raw bytes inside strings (invalid UTF-8, NUL),
// objects with duplicate keys, and very large strings written without building them first.

export type Tree =
  | null
  | boolean
  | number
  | string
  | Tree[]
  | { [key: string]: Tree }
  | Raw
  | Bytes
  | Dup
  | Big;

/** Written as is (e.g. NaN). */
export interface Raw {
  $raw: string;
}
/** A string literal holding these bytes as they are. */
export interface Bytes {
  $bytes: number[];
}
/** An object whose keys may repeat. */
export interface Dup {
  $dup: [string, Tree][];
}
/** A string literal of `size` copies of `fill`. */
export interface Big {
  $big: number;
  fill: string;
}

export const isSpecial = (t: unknown): t is Raw | Bytes | Dup | Big =>
  typeof t === "object" && t !== null && !Array.isArray(t) && ("$raw" in t || "$bytes" in t || "$dup" in t || "$big" in t);

/** The JSON text of `t`, as bytes. */
export function writeJson(t: Tree): Buffer {
  const parts: Buffer[] = [];
  const str = (s: string): void => {
    parts.push(Buffer.from(s, "utf8"));
  };
  const walk = (v: Tree): void => {
    if (v === null || typeof v === "boolean") return str(String(v));
    if (typeof v === "number") return str(Number.isFinite(v) ? JSON.stringify(v) : String(v));
    if (typeof v === "string") return str(JSON.stringify(v));
    if (Array.isArray(v)) {
      str("[");
      v.forEach((x, i) => {
        if (i > 0) str(",");
        walk(x);
      });
      return str("]");
    }
    if ("$raw" in v && typeof v.$raw === "string") return str(v.$raw as string);
    if ("$bytes" in v && Array.isArray(v.$bytes)) {
      str('"');
      parts.push(Buffer.from(v.$bytes as number[]));
      return str('"');
    }
    if ("$big" in v && typeof v.$big === "number") {
      str('"');
      parts.push(Buffer.alloc(v.$big as number, (v as Big).fill));
      return str('"');
    }
    const entries: [string, Tree][] = "$dup" in v && Array.isArray(v.$dup) ? (v as Dup).$dup : Object.entries(v as { [k: string]: Tree });
    str("{");
    entries.forEach(([k, x], i) => {
      if (i > 0) str(",");
      str(JSON.stringify(k));
      str(":");
      walk(x);
    });
    str("}");
  };
  walk(t);
  return Buffer.concat(parts);
}

/** Every JSON text made by nesting `inner` `depth` times in arrays or objects. */
export function nested(depth: number, asObject: boolean, inner: Buffer): Buffer {
  const open = Buffer.from(asObject ? '{"a":' : "[");
  const close = Buffer.from(asObject ? "}" : "]");
  return Buffer.concat([Buffer.alloc(open.length * depth, open), inner, Buffer.alloc(close.length * depth, close)]);
}
