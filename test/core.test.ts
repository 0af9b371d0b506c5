// The pure core under Node, against the shared vectors in test/vectors/ (the busted specs run
// the same vectors against the compiled Lua).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseHostPort } from "../src-lua/core/address";
import { algorithms } from "../src-lua/core/balancer/algorithms";
import { newPeer, Peer } from "../src-lua/core/balancer/peer";
import { checkDomain, checkUpstreamName } from "../src-lua/core/names";
import { Problem, pointer } from "../src-lua/core/problems";
import { compileRuleSet, RuleNode, validateRuleSet } from "../src-lua/core/ruleset";
import { formatServerParams, parseServerParams } from "../src-lua/core/server-params";
import { jsRegexCheck } from "../admin-cli/src/host";

const vectors = (name: string) => JSON.parse(readFileSync(new URL(`./vectors/${name}.json`, import.meta.url), "utf8"));

describe("rule sets", () => {
  const v = vectors("ruleset");
  for (const c of v.valid) {
    it(`accepts and compiles: ${c.name}`, () => {
      const problems: Problem[] = [];
      validateRuleSet(c.ruleset, "", jsRegexCheck, problems);
      expect(problems).toEqual([]);
      const compiled = compileRuleSet(c.ruleset);
      expect(compiled.init.name).toBe(c.compiled.init);
      expect(compiled.maxSteps).toBe(c.compiled.maxSteps);
      const seen = new Map<string, RuleNode>();
      const visit = (n: RuleNode | undefined) => {
        if (!n || seen.has(n.name)) return;
        seen.set(n.name, n);
        visit(n.succ);
        visit(n.fail);
      };
      visit(compiled.init);
      for (const [name, [succ, fail]] of Object.entries<[string | null, string | null]>(c.compiled.edges)) {
        const n = seen.get(name)!;
        expect(n, name).toBeDefined();
        expect(n.succ?.name ?? null).toBe(succ);
        expect(n.fail?.name ?? null).toBe(fail);
        // direct references: the node reached through an edge is the very node object
        if (n.succ) expect(seen.get(n.succ.name)).toBe(n.succ);
      }
      for (const [name, b] of Object.entries<any>(c.compiled.backend ?? {})) {
        const n = seen.get(name)!;
        expect(n.server).toBe(b.server);
        expect(n.literal).toBe(b.literal);
        expect(n.headerNames.map((h, i) => [h, n.headerValues[i]])).toEqual(b.headers);
      }
    });
  }
  for (const c of v.invalid) {
    it(`rejects: ${c.name}`, () => {
      const problems: Problem[] = [];
      validateRuleSet(c.ruleset, "", jsRegexCheck, problems);
      expect(problems.length).toBe(c.errors.length);
      c.errors.forEach((e: any, i: number) => {
        expect(problems[i].path).toBe(e.path);
        if (e.prefix) expect(problems[i].error.startsWith(e.error)).toBe(true);
        else expect(problems[i].error).toBe(e.error);
      });
    });
  }
  it("reports paths under the domain's pointer, escaping / and ~", () => {
    const problems: Problem[] = [];
    validateRuleSet({ init: "a/b", rules: { "a/b": { type: "x", args: {} } } }, pointer("", "ex~ample"), jsRegexCheck, problems);
    expect(problems).toEqual([{ path: "/ex~0ample/rules/a~1b/type", error: 'unknown rule type "x" (known: ua, path, backend)' }]);
  });
});

describe("server params", () => {
  const v = vectors("server-params");
  for (const c of v.valid) {
    it(`parses ${JSON.stringify(c.text)}`, () => {
      const problems: Problem[] = [];
      const p = parseServerParams(c.text, "/up/s", problems);
      expect(problems).toEqual([]);
      expect(p).toEqual(c.params);
      expect(formatServerParams(p!)).toBe(c.canonical);
    });
  }
  for (const c of v.invalid) {
    it(`rejects ${JSON.stringify(c.text ?? c.value)}`, () => {
      const problems: Problem[] = [];
      expect(parseServerParams(c.text ?? c.value, "/up/s", problems)).toBeUndefined();
      expect(problems).toEqual(c.errors.map((error: string) => ({ path: "/up/s", error })));
    });
  }
});

describe("addresses and names", () => {
  const a = vectors("address");
  for (const c of a.valid) it(`parses ${c.text}`, () => expect(parseHostPort(c.text)).toEqual({ host: c.host, port: c.port, isIp: c.isIp }));
  for (const c of a.invalid) it(`rejects ${c.text}`, () => expect(parseHostPort(c.text)).toBe(c.error));
  const n = vectors("names");
  for (const c of n.domains) it(`domain ${JSON.stringify(c.text)}`, () => expect(checkDomain(c.text)).toBe(c.error));
  for (const c of n.upstreams) it(`upstream ${JSON.stringify(c.text)}`, () => expect(checkUpstreamName(c.text)).toBe(c.error));
});

function peersOf(spec: { addr: string; params: string }[]): Peer[] {
  return spec.map((s) => newPeer(s.addr, "127.0.0.1", 1, s.addr, parseServerParams(s.params, "", [])!));
}

describe("smooth weighted round robin", () => {
  const v = vectors("roundrobin");
  const rr = algorithms["roundrobin"]!;
  const settings = { byteAt: (s: string, i: number) => s.charCodeAt(i - 1), seed: 1 };
  for (const c of v.sequences) {
    it(c.name, () => {
      const st = rr.create(peersOf(c.peers), settings);
      const failed = new Set<string>(c.failed ?? []);
      const filter = (p: Peer) => !failed.has(p.addr);
      expect(c.picks.map(() => rr.pick(st, filter, undefined, undefined, 0)?.addr ?? null)).toEqual(c.picks);
    });
  }
  for (const c of v.distributions) {
    it(c.name, () => {
      const st = rr.create(peersOf(c.peers), settings);
      const counts: Record<string, number> = {};
      for (let i = 0; i < c.picks; i++) {
        const p = rr.pick(st, undefined, undefined, undefined, 0)!;
        counts[p.addr] = (counts[p.addr] ?? 0) + 1;
      }
      expect(counts).toEqual(c.counts);
    });
  }
});
