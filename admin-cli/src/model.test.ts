// elbctl's planning without etcd: validation of a whole file (the engine's code), and the diff
// apply writes (nothing when etcd already holds the file).
import { describe, expect, it } from "vitest";
import { parseArgs } from "./args";
import { Kv } from "./etcd";
import { canonical, Current, exportConfig, plan, Problem, validateConfig } from "./model";

const kv = (key: string, value: string, rev = 5): Kv => ({ key, value, modRevision: rev, createRevision: rev, lease: "0" });
const rules = { init: "b", rules: { b: { type: "backend", args: { servername: "up1" } } } };

function current(): Current {
  return {
    domains: new Map([["a.test", kv("/ELB/rules/a.test", JSON.stringify(rules), 3)]]),
    upstreams: new Map([["up1", new Map([["10.0.0.1:80", kv("/ELB/upstreams/up1/10.0.0.1:80", "weight=2", 4)]])]]),
    policies: new Map([["up1", kv("/ELB/policies/up1", '{"algorithm":"least_conn"}', 6)]]),
    revision: 9,
  };
}

describe("validateConfig", () => {
  it("accepts a valid file; null params mean none", () => {
    const problems: Problem[] = [];
    const c = validateConfig({ domains: { "a.test": rules }, upstreams: { up1: { "10.0.0.1:80": null } } }, problems);
    expect(problems).toEqual([]);
    expect(c!.upstreams).toEqual({ up1: { "10.0.0.1:80": "" } });
  });
  it("reports every problem with its pointer", () => {
    const problems: Problem[] = [];
    expect(validateConfig({ domains: { "A.test": rules }, upstreams: { up1: {} }, nope: 1 }, problems)).toBeUndefined();
    expect(problems.map((p) => p.path)).toEqual(["/nope", "/domains/A.test", "/upstreams/up1"]);
  });
});

describe("plan", () => {
  it("is empty when etcd holds the exported file (key order does not matter)", () => {
    const cur = current();
    const cfg = exportConfig(cur);
    cfg.domains["a.test"] = { rules: rules.rules, init: "b" };
    expect(plan("ELB", cur, cfg, true).ops).toEqual([]);
  });
  it("writes differences guarded on the revisions read, and prunes only with --prune", () => {
    const cur = current();
    const want = { domains: {}, upstreams: { up1: { "10.0.0.2:80": "" } }, policies: {} };
    const p = plan("ELB", cur, want, false);
    expect(p.ops).toEqual([{ put: "/ELB/upstreams/up1/10.0.0.2:80", value: "" }, { del: "/ELB/upstreams/up1/10.0.0.1:80" }]);
    expect(p.guards).toEqual([{ key: "/ELB/upstreams/up1/10.0.0.2:80", modRevision: 0 }, { key: "/ELB/upstreams/up1/10.0.0.1:80", modRevision: 4 }]);
    const pruned = plan("ELB", cur, want, true);
    expect(pruned.changes.map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual(["remove domain a.test", "add server up1", "remove server up1", "remove policy up1"]);
  });
  it("canonical JSON sorts keys", () => {
    expect(canonical({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });
});

describe("parseArgs", () => {
  it("takes --opt value, --opt=value, short aliases, --no-flag and --", () => {
    const p = parseArgs(["domain", "set", "x", "-f", "a.json", "--etcd=h:1", "--no-color", "--", "--weird"], ["file", "etcd"], { f: "file" });
    expect(p).toEqual({ positionals: ["domain", "set", "x", "--weird"], options: { file: "a.json", etcd: "h:1", color: false } });
  });
});
