// graph <domain>: a domain's rule graph, as a tree in the terminal, as Graphviz dot text, or
// as a self-contained SVG (no Graphviz needed). Every rule type is drawn: a matcher's edges are
// match/miss, a limit's under/over, a split's its branches with their shares; backend, redirect
// and respond end the walk. The rules, labels and edges come from the engine's core
// (core/rules/graph.ts); the SVG layout is ui/graph-layout.js, the dashboard's too.
import { domains, keyOf, servers as serverKind } from "../../../src-lua/core/kinds/index";
import { compileRuleSet, RuleKind, RuleNode } from "../../../src-lua/core/ruleset";
import { describeGraph, edgesOf, isTerminal as terminal, reachable as nodesOf, ruleLabel as label } from "../../../src-lua/core/rules/graph";
import { graphSvg } from "../../../ui/graph-layout.js";
import { Command, Ctx, str } from "../cli";
import { CliError } from "../etcd";
import { checkDocument, Problem, readGroup } from "../model";
import { paint, problemLines } from "../output";

const EDGE_STYLE = { match: { paint: "green", dot: "darkgreen" }, miss: { paint: "yellow", dot: "darkorange" }, branch: { paint: "cyan", dot: "steelblue" } } as const;

function tree(ctx: Ctx, domain: string, init: RuleNode, servers: Map<string, string[]>): string[] {
  const lines = [paint(ctx.out, "bold", domain)];
  const shown = new Set<string>();
  const walk = (n: RuleNode, prefix: string, edge: string, last: boolean) => {
    const branch = last ? "└─ " : "├─ ";
    const again = shown.has(n.name);
    let text = `${edge}${paint(ctx.out, "cyan", n.name)} ${label(n)}`;
    if (n.kind === RuleKind.Backend && !n.literal) {
      const s = servers.get(n.server);
      text += s === undefined ? "" : s.length === 0 ? paint(ctx.out, "red", " (no such upstream: 502)") : paint(ctx.out, "dim", ` {${s.join(", ")}}`);
    }
    if (again && !terminal(n)) text += paint(ctx.out, "dim", " (see above)");
    lines.push(`${prefix}${branch}${text}`);
    if (again) return;
    shown.add(n.name);
    const kids = edgesOf(n);
    const next = prefix + (last ? "   " : "│  ");
    kids.forEach((e, i) => {
      const isLast = i === kids.length - 1;
      const edge = paint(ctx.out, EDGE_STYLE[e.kind].paint, `${e.label} -> `);
      if (e.to) walk(e.to, next, edge, isLast);
      else lines.push(`${next}${isLast ? "└─ " : "├─ "}${edge}${paint(ctx.out, "red", "403")}`);
    });
  };
  walk(init, "", "", true);
  return lines;
}

const q = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

function dot(domain: string, init: RuleNode): string {
  const nodes = nodesOf(init);
  const out = [`digraph ${q(domain)} {`, "  rankdir=TB;", '  node [shape=box, fontname="monospace"];', `  ${q(`domain:${domain}`)} [label=${q(domain)}, shape=ellipse];`, `  ${q(`domain:${domain}`)} -> ${q(init.name)};`];
  for (const n of nodes) {
    out.push(`  ${q(n.name)} [label=${q(`${n.name}\n${label(n)}`)}${terminal(n) ? ", style=rounded" : ""}];`);
    for (const e of edgesOf(n)) if (e.to) out.push(`  ${q(n.name)} -> ${q(e.to.name)} [label=${q(e.label)}, color="${EDGE_STYLE[e.kind].dot}"];`);
  }
  out.push("}");
  return out.join("\n");
}

export const graphCommands: Command[] = [
  {
    name: "graph",
    args: "<domain> [--format tree|dot|svg]",
    summary: "draw a domain's rule graph: a tree in the terminal, Graphviz dot, or SVG",
    valued: ["format"],
    async run(ctx, [domain]) {
      if (!domain) throw new CliError("usage: elbctl graph <domain> [--format tree|dot|svg]", 2);
      const key = keyOf(ctx.elbName, domains, domain);
      const kv = await ctx.store().get(key);
      if (!kv) throw new CliError(`no domain ${domain} (no key ${key})`);
      let rs: unknown;
      const problems: Problem[] = [];
      try {
        rs = JSON.parse(kv.value);
        checkDocument(domains, domain, rs, "", problems);
      } catch (e) {
        problems.push({ path: "", error: `malformed JSON: ${(e as Error).message}` });
      }
      if (problems.length > 0) throw new CliError(`${key} holds an invalid rule set (the engine skips it):\n${problemLines(key, problems)}`);
      const compiled = compileRuleSet(rs as Record<string, unknown>);
      const format = str(ctx, "format") ?? "tree";
      if (format === "dot") return ctx.out.line(dot(domain, compiled.init));
      if (format === "svg") return ctx.out.line(graphSvg(domain, describeGraph(compiled.init)));
      if (format !== "tree") throw new CliError("--format is tree, dot or svg", 2);
      const servers = new Map<string, string[]>();
      for (const n of nodesOf(compiled.init)) {
        if (n.kind === RuleKind.Backend && !n.literal && !servers.has(n.server)) servers.set(n.server, [...(await readGroup(ctx.store(), serverKind, n.server)).keys()]);
      }
      if (ctx.out.json) {
        const nodes = nodesOf(compiled.init).map((n) => ({
          name: n.name,
          type: n.type,
          rule: label(n),
          match: n.kind === RuleKind.Split ? null : (n.succ?.name ?? null),
          miss: n.kind === RuleKind.Split ? null : (n.fail?.name ?? null),
          branches: n.kind === RuleKind.Split ? edgesOf(n).map((e) => ({ weight: e.label, next: e.to?.name ?? null })) : undefined,
          upstream: n.kind === RuleKind.Backend ? n.server : null,
          servers: servers.get(n.server) ?? null,
        }));
        return ctx.out.line(JSON.stringify({ domain, init: compiled.init.name, maxSteps: compiled.maxSteps, nodes }));
      }
      for (const l of tree(ctx, domain, compiled.init, servers)) ctx.out.line(l);
    },
  },
];
