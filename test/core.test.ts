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
import { allowed, inAny, parseCidr, parseCidrList, parseIp } from "../src-lua/core/cidr";
import { admit, CounterStore } from "../src-lua/core/rules/bucket";
import { branchByRandom } from "../src-lua/core/rules/choose";
import { successors, Warning } from "../src-lua/core/ruleset";
import { nestedQuantifier } from "../src-lua/core/rules/regex-lint";
import { branchOfKey } from "../src-lua/core/rules/split";
import { portableText } from "../src-lua/core/text";

const vectors = (name: string) => JSON.parse(readFileSync(new URL(`./vectors/${name}.json`, import.meta.url), "utf8"));

describe("rule sets", () => {
  const v = vectors("ruleset");
  for (const c of v.valid) {
    it(`accepts and compiles: ${c.name}`, () => {
      const problems: Problem[] = [];
      const warnings: Warning[] = [];
      validateRuleSet(c.ruleset, "", jsRegexCheck, problems, warnings, false);
      expect(problems).toEqual([]);
      const want = c.warnings ?? [];
      expect(warnings.length).toBe(want.length);
      want.forEach((w: any, i: number) => {
        expect(warnings[i].path).toBe(w.path);
        expect(warnings[i].warning.startsWith(w.warning)).toBe(true);
      });
      const compiled = compileRuleSet(c.ruleset);
      expect(compiled.init.name).toBe(c.compiled.init);
      expect(compiled.maxSteps).toBe(c.compiled.maxSteps);
      expect(compiled.captures).toBe(c.compiled.captures ?? false);
      const seen = new Map<string, RuleNode>();
      const visit = (n: RuleNode | undefined) => {
        if (!n || seen.has(n.name)) return;
        seen.set(n.name, n);
        for (const s of successors(n)) visit(s);
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
      for (const [name, fields] of Object.entries<Record<string, unknown>>(c.compiled.nodes ?? {})) {
        const n = seen.get(name)! as unknown as Record<string, unknown>;
        expect(n, name).toBeDefined();
        for (const [f, v] of Object.entries(fields)) expect(n[f] ?? null, `${name}.${f}`).toEqual(v);
      }
      for (const [name, list] of Object.entries<string[]>(c.compiled.branches ?? {})) {
        expect(seen.get(name)!.branches!.map((b) => b.name)).toEqual(list);
      }
    });
  }
  for (const c of v.strict) {
    it(`refuses when strict: ${c.name}`, () => {
      const problems: Problem[] = [];
      validateRuleSet(c.ruleset, "", jsRegexCheck, problems, undefined, true);
      expect(problems.map((p) => p.path)).toEqual(c.errors.map((e: any) => e.path));
      c.errors.forEach((e: any, i: number) => expect(problems[i].error.startsWith(e.error), problems[i].error).toBe(true));
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
    expect(problems).toEqual([{ path: "/ex~0ample/rules/a~1b/type", error: 'unknown rule type "x" (known: ua, path, backend, header, cookie, query, method, ip, scheme, split, redirect, respond, limit)' }]);
  });
});

describe("regex lint: nested unbounded quantifiers", () => {
  for (const c of vectors("regex-lint").patterns) {
    it(`${c.pattern}`, () => expect(nestedQuantifier(c.pattern) ?? null).toBe(c.nested));
  }
});

describe("addresses and CIDR blocks", () => {
  const v = vectors("cidr");
  const byteAt = portableText.byteAt;
  for (const c of v.addresses) {
    it(`address ${JSON.stringify(c.text)}`, () => {
      const out: number[] = [];
      const family = parseIp(c.text, byteAt, out);
      expect(family).toBe(c.family ?? 0);
      if (c.family) expect(out).toEqual(c.bytes);
    });
  }
  for (const c of v.cidrs) {
    it(`block ${JSON.stringify(c.text)}`, () => {
      const b = parseCidr(c.text, byteAt);
      if (c.family === undefined) expect(b).toBeUndefined();
      else expect(b).toEqual({ family: c.family, bytes: c.bytes, bits: c.bits });
    });
  }
  for (const c of v.matches) {
    it(`${c.ip} ${c.in ? "in" : "not in"} ${c.cidrs.join(",")}`, () => {
      const list = c.cidrs.map((t: string) => parseCidr(t, byteAt)!);
      expect(allowed(c.ip, list, byteAt)).toBe(c.in);
      const out: number[] = [];
      const family = parseIp(c.ip, byteAt, out);
      expect(family !== 0 && inAny(list, family, out)).toBe(c.in);
    });
  }
  for (const c of v.lists) {
    it(`list ${JSON.stringify(c.spec)}`, () => {
      const r = parseCidrList(c.spec, portableText);
      if (c.error !== undefined) expect(r).toBe(c.error);
      else expect((r as unknown[]).length).toBe(c.count);
    });
  }
});

const cumulative = (w: number[]) => {
  let t = 0;
  return w.map((x) => (t += x));
};

describe("split: the choice of branch", () => {
  const v = vectors("split");
  for (const c of v.sticky) {
    it(`sticky ${c.weights.join("/")}`, () => {
      const cu = cumulative(c.weights);
      for (const [key, b] of Object.entries(c.branches)) expect(branchOfKey(cu, cu[cu.length - 1], key), key).toBe(b);
    });
  }
  for (const c of v.random) {
    it(`random ${c.weights.join("/")} at ${c.r}`, () => {
      const cu = cumulative(c.weights);
      expect(branchByRandom(cu, cu[cu.length - 1], c.r)).toBe(c.branch);
    });
  }
  for (const c of v.shares) {
    it(`sticky shares of ${c.weights.join("/")} over ${c.keys} clients within ${c.within * 100}%`, () => {
      const cu = cumulative(c.weights);
      const total = cu[cu.length - 1];
      const counts = c.weights.map(() => 0);
      for (let i = 1; i <= c.keys; i++) counts[branchOfKey(cu, total, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`)]++;
      c.weights.forEach((w: number, i: number) => expect(Math.abs(counts[i] / c.keys - w / total), `branch ${i}`).toBeLessThanOrEqual(c.within));
    });
  }
});

/** A counter store as the shared dict behaves: incr with an init creates the key. */
function memoryStore(): CounterStore {
  const m = new Map<string, number>();
  return {
    incr(key: string, value: number, init?: number) {
      const old = m.get(key) ?? init;
      if (old === undefined) return undefined;
      m.set(key, old + value);
      return old + value;
    },
    set(key: string, value: number) {
      m.set(key, value);
      return true;
    },
  };
}

describe("limit: the token bucket", () => {
  for (const c of vectors("bucket").sequences) {
    it(c.name, () => {
      const store = memoryStore();
      for (const e of c.events) {
        const got = e.expect.map(() => admit(store, e.key, e.at, c.per / c.rate, c.rate + c.burst));
        expect(got, `at ${e.at} key ${e.key}`).toEqual(e.expect);
      }
    });
  }
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
