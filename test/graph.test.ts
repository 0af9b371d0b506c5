// The rule graph's description (src-lua/core/rules/graph.ts) under Node, against the vectors
// spec/support/core_vectors.lua runs against the compiled Lua: elbctl and the engine's
// GET /__erulb__/graph describe a rule set alike; and the shared SVG layout (ui/graph-layout.js).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileRuleSet } from "../src-lua/core/ruleset";
import { describeGraph } from "../src-lua/core/rules/graph";
import { graphSvg, layout } from "../ui/graph-layout.js";

const { cases } = JSON.parse(readFileSync(new URL("./vectors/graph.json", import.meta.url), "utf8"));

describe("rule graph descriptions", () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(JSON.parse(JSON.stringify(describeGraph(compileRuleSet(c.ruleset).init)))).toEqual(c.graph);
    });
  }
});

describe("the SVG layout", () => {
  const every = cases.find((c: any) => c.name === "every rule type").graph;
  it("puts a rule below every rule that leads to it, one row per step of the longest path", () => {
    const { pos } = layout(every);
    for (const e of every.edges) if (e.to) expect(pos.get(e.to).y).toBeGreaterThan(pos.get(e.from).y);
    expect(pos.get("host").y).toBeLessThan(pos.get("ck").y);
  });
  it("draws every rule and every edge that has a target, escaping text", () => {
    const svg = graphSvg("a<b>.test", every);
    expect((svg.match(/<g class="rule"/g) ?? []).length).toBe(every.nodes.length);
    expect((svg.match(/<line /g) ?? []).length).toBe(every.edges.filter((e: any) => e.to).length);
    expect(svg).toContain(">a&lt;b&gt;.test</text>");
    expect(svg).toContain("backend -&gt; 10.0.0.9:80 (literal)");
  });
  it("takes the engine's JSON, where an empty list is {}", () => {
    const svg = graphSvg("one.test", { init: "b", nodes: [{ name: "b", type: "backend", label: "backend -> up1", terminal: true }], edges: {} as any });
    expect(svg).toContain(">b</text>");
  });
});
