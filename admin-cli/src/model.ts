// The routing configuration as elbctl sees it: read from etcd, validated with the engine's own
// descriptions of each kind (src-lua/core/kinds), and planned as one transaction of differences.
import "./host";
import { groupPrefix, Kind, KINDS as ALL_KINDS, keyOf, parseKey } from "../../src-lua/core/kinds/index";
import { describe, pointer, type Problem } from "../../src-lua/core/problems";
import { regexPolicy } from "../../src-lua/core/rules/regex-lint";
import type { Warning } from "../../src-lua/core/rules/type";
import type { Guard, Kv, Op, Store } from "./etcd";

export type { Problem, Warning };

/**
 * Runs a validation collecting what is valid but risky (regexes with nested unbounded
 * quantifiers); with `strict` (--strict, or ELB_REGEX_STRICT=1 as the engine reads it) those are
 * problems instead.
 */
export function collectWarnings<T>(strict: boolean, validate: () => T): { result: T; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const was = regexPolicy.strict;
  regexPolicy.strict = strict || process.env.ELB_REGEX_STRICT === "1";
  regexPolicy.warnings = warnings;
  try {
    return { result: validate(), warnings };
  } finally {
    regexPolicy.strict = was;
    regexPolicy.warnings = undefined;
  }
}

/** The kinds the declarative file holds (certificates and ACME challenges are managed apart). */
export const KINDS = ALL_KINDS.filter((k) => k.inFiles !== false);

/**
 * The declarative file of `apply` and `export`, one section per kind (its fileSection):
 * flat kinds {name: value}, grouped kinds {name: {member: value}}.
 */
export interface Config {
  domains: Record<string, unknown>;
  upstreams: Record<string, Record<string, string>>;
  policies: Record<string, unknown>;
}

/** What etcd holds, by the same sections: flat kinds name -> key, grouped name -> member -> key. */
export interface Current {
  domains: Map<string, Kv>;
  upstreams: Map<string, Map<string, Kv>>;
  policies: Map<string, Kv>;
  revision: number;
}

type Section = Record<string, unknown>;
const sectionOf = (c: Config, kind: Kind): Section => ((c as unknown as Record<string, Section>)[kind.fileSection] ?? {});
const currentOf = (c: Current, kind: Kind): Map<string, any> => (c as unknown as Record<string, Map<string, any>>)[kind.fileSection];

export async function readCurrent(store: Store): Promise<Current> {
  const { kvs, revision } = await store.range(store.root);
  const cur = { revision } as Record<string, unknown>;
  for (const kind of KINDS) cur[kind.fileSection] = new Map();
  for (const kv of kvs) {
    const ref = parseKey(store.elbName, kv.key);
    if (!ref || !KINDS.includes(ref.kind)) continue;
    const m = cur[ref.kind.fileSection] as Map<string, any>;
    if (!ref.kind.grouped) m.set(ref.name, kv);
    else {
      if (!m.has(ref.name)) m.set(ref.name, new Map());
      m.get(ref.name).set(ref.member, kv);
    }
  }
  return cur as unknown as Current;
}

/** The members of a grouped kind's group (an upstream's servers), by member. */
export async function readGroup(store: Store, kind: Kind, name: string): Promise<Map<string, Kv>> {
  const prefix = groupPrefix(store.elbName, kind, name);
  const { kvs } = await store.range(prefix);
  const m = new Map<string, Kv>();
  for (const kv of kvs) {
    const ref = parseKey(store.elbName, kv.key);
    if (ref && ref.kind === kind && ref.name === name) m.set(ref.member, kv);
  }
  return m;
}

// ---- validation, with the engine's code ------------------------------------------------------

/** A name of `kind`; false (and a problem at `at`) when invalid. */
export function checkName(kind: Kind, name: string, at: string, problems: Problem[]): boolean {
  const err = kind.checkName(name);
  if (err !== undefined) problems.push({ path: at, error: err });
  return err === undefined;
}

/** A grouped kind's member and its value (e.g. a server's host:port and params). */
export function checkMember(kind: Kind, member: string, value: unknown, at: string, problems: Problem[]): void {
  const err = kind.checkMember(member);
  if (err !== undefined) problems.push({ path: at, error: err });
  kind.validate(value, at, problems);
}

/** A flat kind's name and value (a domain's rule set, an upstream's policy). */
export function checkDocument(kind: Kind, name: string, value: unknown, at: string, problems: Problem[]): void {
  checkName(kind, name, at, problems);
  kind.validate(value, at, problems);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const sections = KINDS.map((k) => k.fileSection);

/** Every problem of a whole configuration file, as JSON pointers into it. */
export function validateConfig(v: unknown, problems: Problem[]): Config | undefined {
  const before = problems.length;
  if (!isObj(v)) {
    problems.push({ path: "", error: `the configuration must be an object with ${sections.join(", ")}, got ${describe(v)}` });
    return undefined;
  }
  for (const k of Object.keys(v).sort()) {
    if (!sections.includes(k)) problems.push({ path: pointer("", k), error: `unknown section (known: ${sections.join(", ")})` });
  }
  const out: Record<string, Section> = {};
  for (const kind of KINDS) {
    const name = kind.fileSection;
    let s = v[name];
    if (s === undefined || s === null) s = {};
    if (!isObj(s)) {
      problems.push({ path: pointer("", name), error: `must be an object keyed by name, got ${describe(s)}` });
      s = {};
    }
    out[name] = {};
    for (const n of Object.keys(s as Section).sort()) {
      const at = pointer(`/${name}`, n);
      const value = (s as Section)[n];
      if (!kind.grouped) {
        checkDocument(kind, n, value, at, problems);
        out[name][n] = value;
        continue;
      }
      checkName(kind, n, at, problems);
      if (!isObj(value)) {
        problems.push({ path: at, error: `must be an object of "${kind.memberNoun}": "${kind.document}", got ${describe(value)}` });
        continue;
      }
      const members = Object.keys(value).sort();
      if (members.length === 0) problems.push({ path: at, error: `an ${kind.noun} needs at least one ${kind.id} (to remove it, leave it out and use --prune)` });
      const group: Record<string, unknown> = {};
      for (const m of members) {
        // YAML: a member with nothing after its colon (null) has the empty value
        const mv = value[m] === null ? "" : value[m];
        checkMember(kind, m, mv, pointer(at, m), problems);
        group[m] = mv;
      }
      out[name][n] = group;
    }
  }
  if (problems.length > before) return undefined;
  return out as unknown as Config;
}

// ---- export and planning ---------------------------------------------------------------------

function read(kind: Kind, kv: Kv, warnings: string[]): unknown {
  const problems: Problem[] = [];
  const v = kind.decode(kv.value, kv.key, problems);
  if (problems.length === 0) return v;
  warnings.push(`${kv.key} does not hold valid JSON; exported as a string`);
  return kv.value;
}

export function exportConfig(cur: Current, warnings: string[] = []): Config {
  const out: Record<string, Section> = {};
  for (const kind of KINDS) {
    const have = currentOf(cur, kind);
    const s: Section = {};
    for (const name of [...have.keys()].sort()) {
      if (!kind.grouped) {
        s[name] = read(kind, have.get(name), warnings);
        continue;
      }
      const members: Map<string, Kv> = have.get(name);
      const group: Record<string, unknown> = {};
      for (const m of [...members.keys()].sort()) group[m] = read(kind, members.get(m)!, warnings);
      s[name] = group;
    }
    out[kind.fileSection] = s;
  }
  return out as unknown as Config;
}

/** JSON with object keys sorted: two values are the same configuration when this agrees. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObj(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  return JSON.stringify(v);
}

export interface Change {
  action: "add" | "change" | "remove";
  /** the kind's id: "domain", "server", "policy" */
  kind: string;
  name: string;
  /** grouped kinds: the member (a server's host:port) */
  addr?: string;
  key: string;
  before?: string;
  after?: string;
}

export interface Plan {
  changes: Change[];
  ops: Op[];
  guards: Guard[];
}

export function plan(elbName: string, cur: Current, want: Config, prune: boolean): Plan {
  const p: Plan = { changes: [], ops: [], guards: [] };
  const put = (kind: Kind, name: string, member: string | undefined, value: unknown, kv: Kv | undefined) => {
    const text = kind.encode(value);
    const key = keyOf(elbName, kind, name, member);
    p.changes.push({ action: kv ? "change" : "add", kind: kind.id, name, ...(member === undefined ? {} : { addr: member }), key, before: kv?.value, after: text });
    p.ops.push({ put: key, value: text });
    p.guards.push({ key, modRevision: kv?.modRevision ?? 0 });
  };
  const del = (kind: Kind, name: string, member: string | undefined, kv: Kv) => {
    p.changes.push({ action: "remove", kind: kind.id, name, ...(member === undefined ? {} : { addr: member }), key: kv.key, before: kv.value });
    p.ops.push({ del: kv.key });
    p.guards.push({ key: kv.key, modRevision: kv.modRevision });
  };
  const same = (kind: Kind, kv: Kv, v: unknown) => {
    const problems: Problem[] = [];
    const stored = kind.decode(kv.value, kv.key, problems);
    return problems.length === 0 && canonical(stored) === canonical(v);
  };
  for (const kind of KINDS) {
    const have = currentOf(cur, kind);
    const wanted = sectionOf(want, kind);
    if (!kind.grouped) {
      for (const n of Object.keys(wanted).sort()) {
        const kv: Kv | undefined = have.get(n);
        if (!kv || !same(kind, kv, wanted[n])) put(kind, n, undefined, wanted[n], kv);
      }
      if (prune) for (const [n, kv] of have) if (!(n in wanted)) del(kind, n, undefined, kv);
      continue;
    }
    const names = new Set([...Object.keys(wanted), ...(prune ? have.keys() : [])]);
    for (const n of [...names].sort()) {
      const members: Map<string, Kv> = have.get(n) ?? new Map();
      const wantedMembers = (wanted[n] ?? {}) as Record<string, unknown>;
      for (const m of Object.keys(wantedMembers).sort()) {
        const kv = members.get(m);
        if (!kv || !same(kind, kv, wantedMembers[m])) put(kind, n, m, wantedMembers[m], kv);
      }
      for (const [m, kv] of [...members].sort()) if (!(m in wantedMembers)) del(kind, n, m, kv);
    }
  }
  return p;
}
