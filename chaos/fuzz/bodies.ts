// Generated admin API bodies for every kind in src-lua/core/kinds (KINDS): valid ones built
// from each kind's valid examples (the put and stored vectors of test/vectors/kinds.json, the
// vectors every kind has, and the "valid" cases of test/vectors/<document>.json, e.g.
// ruleset.json's rule sets of every rule type; for a kind that has none there, such as certs
// whose vectors a plain LuaJIT run cannot check, an example made here), then mutated. A kind
// or a rule type added later is fuzzed as soon as it has vectors. Cases come from fast-check
// with a seed, so a run is reproduced by its seed.
import { existsSync, readFileSync } from "node:fs";
import fc from "fast-check";
import "../../admin-cli/src/host";
import { makeCa, makeCert } from "../../test/harness/certs.mjs";
import { KINDS, Kind, parseKey } from "../../src-lua/core/kinds/index";
import { planPut } from "../../src-lua/core/kinds/plan";
import { Problem } from "../../src-lua/core/problems";
import { Big, nested, Tree, writeJson } from "./json-text";

type Obj = { [key: string]: Tree };

const VECTORS = new URL("../../test/vectors/kinds.json", import.meta.url);

/** Valid API bodies ({name: value}) per kind id, from the vectors. */
export function examples(): Map<string, Obj[]> {
  const v = JSON.parse(readFileSync(VECTORS, "utf8"));
  const out = new Map<string, Obj[]>();
  const add = (id: string, body: Obj) => out.set(id, [...(out.get(id) ?? []), body]);
  for (const c of v.put ?? []) if (Array.isArray(c.errors) && c.errors.length === 0) add(c.kind, c.body);
  for (const c of v.stored ?? []) {
    if (!Array.isArray(c.errors) || c.errors.length !== 0) continue;
    const ref = parseKey("ELB", c.key);
    if (!ref) continue;
    const problems: Problem[] = [];
    const value = ref.kind.decode(c.value, c.key, problems) as Tree;
    if (problems.length > 0) continue;
    add(ref.kind.id, ref.kind.grouped ? { [ref.name]: { [ref.member]: value } } : { [ref.name]: value });
  }
  for (const kind of KINDS) {
    if (kind.grouped) continue;
    const file = new URL(`../../test/vectors/${kind.document}.json`, import.meta.url);
    if (!existsSync(file)) continue;
    const doc = JSON.parse(readFileSync(file, "utf8"));
    for (const c of doc.valid ?? []) {
      const value = c[kind.document] as Tree;
      const problems: Problem[] = [];
      if (value === undefined) continue;
      kind.validate(value, "", problems);
      if (problems.length === 0) add(kind.id, { example: value });
    }
  }
  for (const kind of KINDS) {
    if (out.has(kind.id)) continue;
    const body = madeHere(kind.id);
    if (body) add(kind.id, body);
  }
  return out;
}

/** A valid body for a kind the vectors cannot hold (undefined: none known). */
function madeHere(id: string): Obj | undefined {
  if (id === "cert") {
    const leaf = makeCert(makeCa("ELB fuzz CA", 36500), { names: ["fuzz.test", "*.fuzz.test"], days: 36500, chain: true });
    return { fuzzcert: { cert: leaf.cert, key: leaf.key } };
  }
  if (id === "challenge") return { "tok_en-1": "tok_en-1.thumb_print" };
  return undefined;
}

/** n names (or members) that `check` accepts, made from a few patterns. */
const pools = new Map<(s: string) => string | undefined, Map<string, string[]>>();

function pool(check: (s: string) => string | undefined, make: ((i: number) => string)[], n: number): string[] {
  const id = `${make.map((m) => m(0)).join()}|${n}`;
  const byCheck = pools.get(check) ?? new Map<string, string[]>();
  pools.set(check, byCheck);
  const known = byCheck.get(id);
  if (known) return known;
  const out = new Set<string>();
  for (let i = 0; out.size < n && i < n * 10; i++) {
    for (const m of make) {
      const s = m(i);
      if (check(s) === undefined && !out.has(s)) {
        out.add(s);
        break;
      }
    }
  }
  byCheck.set(id, [...out]);
  return [...out];
}

export interface KindFuzz {
  kind: Kind;
  examples: Obj[];
  /** names the valid bodies use: few, so etcd's state stays small */
  names: string[];
  members: string[];
  /** example values (members' values for grouped kinds) */
  values: Tree[];
}

export function kindFuzz(kind: Kind, bodies: Obj[]): KindFuzz {
  const names = pool(kind.checkName, [(i) => `fz${i}.test`, (i) => `fz-${i}`, (i) => `fz${i}`], 12);
  const members = kind.grouped ? pool(kind.checkMember, [(i) => `127.0.0.1:${9100 + i}`, (i) => `m${i}`], 8) : [];
  const values: Tree[] = [];
  for (const b of bodies) {
    for (const v of Object.values(b)) {
      if (kind.grouped && v && typeof v === "object") values.push(...Object.values(v as Obj));
      else values.push(v);
    }
  }
  return { kind, examples: bodies, names, members, values };
}

// ---------------------------------------------------------------- mutations

/** Numbers JSON allows that validation must bound, and tokens JSON does not allow at all. */
const NUMBERS = ["NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "1e308", "-1", "0", "-0", "4294967296", "9007199254740993",
  "0.5", "1.5e3", "0x10", "01", "+1", ".5", "1.", "nan", "inf"];
const STRINGS = ["", " ", "\u0000", "a\u0000b", "\r\n", "x\r\nX-Injected: 1", "../../etc/passwd", "%2e%2e%2f", "é", "😀", "\u202e", "\ufeff", "\uffff",
  "\\", "\"", "<script>", "${jndi:x}", "%s%n", "null", "true", "1", "a".repeat(300)];
/** Invalid UTF-8 and raw control bytes inside a string literal. */
const BYTES = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x61, 0x00, 0x62], [0x01], [0x0a], [0xe2, 0x82]];
/** Regexes that backtrack or break a compiler. */
export const REGEXES = ["(a+)+$", "^(a|a)*$", "(a*)*b", "(x+x+)+y", "(.*){1,32000}[bc]", "((a{1,1000}){1,1000}){1,1000}", "(?:(?:a*)*)*$", "\\", "(", "[z-a]",
  "(?<=a+)b", "\\p{L}", "(?i)x", "a{99999}", "(?R)", "(a)\\2", "(?:a|b|ab|ba)*c", "^(\\w+\\s?)*$", "(\\d+)*\\.", "((((((((((a))))))))))*"];
const ODD_NAMES = ["", " ", "a b", "UPPER.test", "a..b", ".a", "a.", "a/b", "../x", "%2F", "\u0000", "x\ny", "*.test", "__proto__", "constructor", "__index",
  "é.test", "😀", "a".repeat(254), "a".repeat(201), "-", "_", "..", ".", "a\u0000.test", "xn--nxasmq6b", "localhost", "127.0.0.1", "[::1]", "a:b"];

export type Mutation =
  | { op: "type"; at: number; value: Tree }
  | { op: "number"; at: number; token: string }
  | { op: "string"; at: number; value: string }
  | { op: "bytes"; at: number; bytes: number[] }
  | { op: "regex"; at: number; pattern: string }
  | { op: "long"; at: number; size: number }
  | { op: "dup"; at: number; value: Tree }
  | { op: "addKey"; at: number; key: string; value: Tree }
  | { op: "dropKey"; at: number }
  | { op: "rename"; name: string }
  | { op: "root"; value: Tree };

const smallJson: fc.Arbitrary<Tree> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxKeys: 3 }),
) as fc.Arbitrary<Tree>;

const at = fc.nat();
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("type" as const), at, value: smallJson }),
  fc.record({ op: fc.constant("number" as const), at, token: fc.constantFrom(...NUMBERS) }),
  fc.record({ op: fc.constant("number" as const), at, token: fc.double({ noNaN: true }).map((d) => JSON.stringify(d)) }),
  fc.record({ op: fc.constant("string" as const), at, value: fc.oneof(fc.constantFrom(...STRINGS), fc.string({ unit: "binary", maxLength: 30 })) }),
  fc.record({ op: fc.constant("bytes" as const), at, bytes: fc.constantFrom(...BYTES) }),
  fc.record({ op: fc.constant("regex" as const), at, pattern: fc.constantFrom(...REGEXES) }),
  fc.record({ op: fc.constant("long" as const), at, size: fc.constantFrom(1000, 65536, 300000) }),
  fc.record({ op: fc.constant("dup" as const), at, value: smallJson }),
  fc.record({ op: fc.constant("addKey" as const), at, key: fc.oneof(fc.constantFrom("x", "extra", "__index", ""), fc.string({ maxLength: 8 })), value: smallJson }),
  fc.record({ op: fc.constant("dropKey" as const), at }),
  fc.record({ op: fc.constant("rename" as const), name: fc.oneof(fc.constantFrom(...ODD_NAMES), fc.string({ unit: "binary", maxLength: 12 })) }),
  fc.record({ op: fc.constant("root" as const), value: smallJson }),
);

/** Body-level shapes: a valid body, mutated, nested deep, very large, or with many names. */
export type Shape =
  | { shape: "valid" }
  | { shape: "mutated"; mutations: Mutation[] }
  | { shape: "nested"; depth: number; asObject: boolean }
  | { shape: "big"; size: number; valid: boolean }
  | { shape: "many"; count: number }
  | { shape: "text"; text: string };

export interface Case {
  method: "PUT" | "DELETE";
  kind: number;
  example: number;
  names: number[];
  members: number[];
  shape: Shape;
  /** drives the choices made while building (which node a mutation hits, ...) */
  seed: number;
}

const BROKEN_TEXT = ["", " ", "{", "}", "[", "{\"a\":}", "{'a': 1}", "{a: 1}", "{\"a\": 1,}", "[1,]", "/* c */ {}", "{} {}", "\u0000", "\ufeff{}", "null", "true", "1", "\"x\"", "[]", "{}"];

export function caseArb(kinds: KindFuzz[]): fc.Arbitrary<Case> {
  const shape: fc.Arbitrary<Shape> = fc.oneof(
    { weight: 25, arbitrary: fc.constant({ shape: "valid" as const }) },
    { weight: 60, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }).map((mutations) => ({ shape: "mutated" as const, mutations })) },
    { weight: 3, arbitrary: fc.record({ shape: fc.constant("nested" as const), depth: fc.constantFrom(10, 100, 999, 1001, 5000, 100000), asObject: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ shape: fc.constant("big" as const), size: fc.constantFrom(1 << 20, 2 << 20, 8 << 20, 16 * 1024 * 1024 - 4096, 16 * 1024 * 1024 + 4096), valid: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ shape: fc.constant("many" as const), count: fc.constantFrom(64, 129, 1000, 10000) }) },
    { weight: 5, arbitrary: fc.record({ shape: fc.constant("text" as const), text: fc.oneof(fc.constantFrom(...BROKEN_TEXT), fc.string({ unit: "binary", maxLength: 40 })) }) },
  );
  return fc.record({
    method: fc.constantFrom<"PUT" | "DELETE">("PUT", "PUT", "PUT", "PUT", "PUT", "DELETE"),
    kind: fc.nat(kinds.length - 1),
    example: fc.nat(),
    names: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
    members: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
    shape,
    seed: fc.integer(),
  });
}

// ---------------------------------------------------------------- building a body

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clone = <T>(v: T): T => structuredClone(v);

/** The valid body of a case: pool names, example values. */
function validBody(k: KindFuzz, c: Case): Obj {
  const body: Obj = {};
  const names = [...new Set(c.names.map((i) => k.names[i % k.names.length]))];
  names.forEach((name, j) => {
    if (k.kind.grouped) {
      const group: Obj = {};
      for (const m of c.members) group[k.members[m % k.members.length]] = clone(k.values[(c.example + m + j) % k.values.length]);
      body[name] = group;
    } else {
      body[name] = clone(k.values[(c.example + j) % k.values.length]);
    }
  });
  return body;
}

interface Slot {
  get(): Tree;
  set(v: Tree): void;
  /** the object holding this slot and its key, when it is an object member */
  parent?: Obj;
  key?: string;
}

/** Every place in the tree, in pre-order (the root first). */
function slots(root: { v: Tree }): Slot[] {
  const out: Slot[] = [{ get: () => root.v, set: (v) => (root.v = v) }];
  const walk = (v: Tree) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push({ get: () => v[i], set: (n) => (v[i] = n) });
        walk(x);
      });
    } else if (v && typeof v === "object" && !("$raw" in v || "$bytes" in v || "$dup" in v || "$big" in v)) {
      const o = v as Obj;
      for (const key of Object.keys(o)) {
        out.push({ get: () => o[key], set: (n) => (o[key] = n), parent: o, key });
        walk(o[key]);
      }
    }
  };
  walk(root.v);
  return out;
}

function mutate(root: { v: Tree }, m: Mutation, rand: () => number): void {
  if (m.op === "root") {
    root.v = m.value;
    return;
  }
  if (m.op === "rename") {
    const o = root.v;
    if (!o || typeof o !== "object" || Array.isArray(o)) return;
    const keys = Object.keys(o as Obj);
    if (keys.length === 0) return;
    const old = keys[Math.floor(rand() * keys.length)];
    const val = (o as Obj)[old];
    delete (o as Obj)[old];
    (o as Obj)[m.name] = val;
    return;
  }
  const all = slots(root);
  const s = all[m.at % all.length];
  switch (m.op) {
    case "type":
      return s.set(m.value);
    case "number":
      return s.set({ $raw: m.token });
    case "string":
      return s.set(m.value);
    case "bytes":
      return s.set({ $bytes: m.bytes });
    case "regex":
      return s.set(m.pattern);
    case "long":
      return s.set({ $big: m.size, fill: "a" } as Big);
    case "dup": {
      if (!s.parent || s.key === undefined) return s.set({ $dup: [["a", m.value], ["a", s.get()]] });
      const entries: [string, Tree][] = Object.entries(s.parent);
      const i = entries.findIndex(([k]) => k === s.key);
      entries.splice(rand() < 0.5 ? i : i + 1, 0, [s.key, m.value]);
      for (const k of Object.keys(s.parent)) delete s.parent[k];
      (s.parent as unknown as { $dup: [string, Tree][] }).$dup = entries;
      return;
    }
    case "addKey": {
      const v = s.get();
      if (v && typeof v === "object" && !Array.isArray(v)) (v as Obj)[m.key] = m.value;
      else s.set({ [m.key]: m.value });
      return;
    }
    case "dropKey": {
      if (s.parent && s.key !== undefined) delete s.parent[s.key];
      return;
    }
  }
}

/** A string leaf in a valid value where a long string keeps the value valid, if any. */
function paddingSlot(k: KindFuzz, body: Obj, elbName: string): ((size: number) => Obj) | undefined {
  const root = { v: clone(body) as Tree };
  const all = slots(root);
  for (let i = 0; i < all.length; i++) {
    // a pattern megabytes long is refused by PCRE (the engine) though JavaScript takes it
    if (typeof all[i].get() !== "string" || all[i].key === "pattern") continue;
    const trial = { v: clone(body) as Tree };
    const s = slots(trial)[i];
    s.set("p".repeat(2000));
    const problems: Problem[] = [];
    planPut(k.kind, elbName, trial.v, problems);
    if (problems.length === 0) {
      return (size: number) => {
        const t = { v: clone(body) as Tree };
        slots(t)[i].set({ $big: size, fill: "p" } as Big);
        return t.v as Obj;
      };
    }
  }
  return undefined;
}

export interface Built {
  method: "PUT" | "DELETE";
  body: Buffer;
  /** a short description for the report */
  what: string;
}

/** The request a case stands for. */
export function build(kinds: KindFuzz[], c: Case, elbName: string): Built {
  const k = kinds[c.kind % kinds.length];
  const rand = rng(c.seed);
  const base: Tree = c.method === "PUT" ? validBody(k, c) : [...new Set(c.names.map((i) => k.names[i % k.names.length]))];
  const s = c.shape;
  const label = k.kind.id;
  if (s.shape === "valid") return { method: c.method, body: writeJson(base), what: `${label} valid` };
  if (s.shape === "text") return { method: c.method, body: Buffer.from(s.text, "utf8"), what: `${label} text ${JSON.stringify(s.text).slice(0, 40)}` };
  if (s.shape === "nested") return { method: c.method, body: nested(s.depth, s.asObject, writeJson(base)), what: `${label} nested ${s.depth}` };
  if (s.shape === "many") {
    if (c.method === "DELETE") return { method: c.method, body: writeJson(Array.from({ length: s.count }, (_, i) => `many${i}`)), what: `${label} ${s.count} names` };
    const one = Object.values(base as Obj)[0];
    const body: Obj = {};
    const make = pool(k.kind.checkName, [(i) => `many${i}.test`, (i) => `many-${i}`], s.count);
    for (const n of make) body[n] = clone(one);
    return { method: c.method, body: writeJson(body), what: `${label} ${make.length} names` };
  }
  if (s.shape === "big") {
    if (s.valid && c.method === "PUT") {
      const pad = paddingSlot(k, base as Obj, elbName);
      if (pad) return { method: c.method, body: writeJson(pad(s.size)), what: `${label} valid, ${s.size} bytes` };
    }
    const root = { v: clone(base) };
    mutate(root, { op: "long", at: 1 + Math.floor(rand() * 1000), size: s.size }, rand);
    return { method: c.method, body: writeJson(root.v), what: `${label} ${s.size}-byte string` };
  }
  const root = { v: clone(base) };
  for (const m of s.mutations) mutate(root, m, rand);
  return { method: c.method, body: writeJson(root.v), what: `${label} ${s.mutations.map((m) => m.op).join("+")}` };
}

export { KINDS };
