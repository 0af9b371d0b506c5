// graph <domain>: a domain's rule graph, as a tree in the terminal, as Graphviz dot text, or
// as a self-contained SVG (laid out here: no Graphviz needed). Every rule type is drawn: a
// matcher's edges are match/miss, a limit's under/over, a split's its branches with their
// shares; backend, redirect and respond end the walk.
import { domains, keyOf, servers as serverKind } from "../../../src-lua/core/kinds/index";
import { compileRuleSet, RuleKind, RuleNode } from "../../../src-lua/core/ruleset";
import { Template } from "../../../src-lua/core/rules/node";
import { Command, Ctx, str } from "../cli";
import { CliError } from "../etcd";
import { checkDocument, Problem, readGroup } from "../model";
import { paint, problemLines } from "../output";

/** A template as written: parts, $1.., $name. */
function templateText(t: Template): string {
  return t.parts.map((p, i) => (t.caps[i] > 0 ? `$${t.caps[i]}` : t.vars[i] !== "" ? `$${t.vars[i]}` : p.replace(/\$/g, "$$$$"))).join("");
}

function matchText(n: RuleNode): string {
  return `${n.regex ? "~" : "=="} ${n.pattern}`;
}

function label(n: RuleNode): string {
  switch (n.kind) {
    case RuleKind.Backend: {
      const headers = n.headerNames.map((h, i) => ` ${h}: ${n.headerValues[i]}`).join(",");
      const resp = (n.responseHeaderNames ?? []).map((h, i) => `${h}: ${n.responseHeaderValues![i] === "" ? "(removed)" : n.responseHeaderValues![i]}`).join(", ");
      return `backend -> ${n.server}${n.literal ? " (literal)" : ""}${headers ? ` [${headers.trim()}]` : ""}${n.pathTemplate ? ` rewrite ${templateText(n.pathTemplate)}` : ""}${resp ? ` answer [${resp}]` : ""}`;
    }
    case RuleKind.Ua:
      return `ua ~* ${n.pattern}`;
    case RuleKind.Path:
      return `path ${n.regex ? "~" : "^="} ${n.pattern}${n.rewrite ? " (rewrite)" : ""}`;
    case RuleKind.Header:
    case RuleKind.Cookie:
    case RuleKind.Query:
      return `${n.type} ${n.written} ${matchText(n)}`;
    case RuleKind.Method:
      return `method ${Object.keys(n.methods ?? {}).sort().join("|")}`;
    case RuleKind.Ip:
      return `ip in ${n.written}`;
    case RuleKind.Scheme:
      return `scheme ${n.variable}`;
    case RuleKind.Split:
      return `split${n.written ? ` sticky by ${n.written}` : " (random)"}`;
    case RuleKind.Limit:
      return `limit ${limitText(n)}${n.keyVar ? ` per ${n.written}` : " for all clients"}`;
    case RuleKind.Redirect:
      return `redirect ${n.status} -> ${templateText(n.location!)}`;
    case RuleKind.Respond:
      return `respond ${n.status} ${n.contentType} (${n.body?.length ?? 0} bytes)`;
  }
  return n.type;
}

/** "10/second, burst 5" from the compiled interval and capacity. */
function limitText(n: RuleNode): string {
  const interval = n.interval ?? 1;
  for (const [per, secs] of [["second", 1], ["minute", 60], ["hour", 3600]] as const) {
    const rate = secs / interval;
    if (Math.abs(rate - Math.round(rate)) < 1e-9) {
      const burst = (n.capacity ?? 0) - Math.round(rate);
      return `${Math.round(rate)}/${per}${burst > 0 ? `, burst ${burst}` : ""}`;
    }
  }
  return `1 per ${interval} s`;
}

/** The rules a node leads to, with what the edge means. */
function edgesOf(n: RuleNode): { label: string; kind: "match" | "miss" | "branch"; to: RuleNode | undefined }[] {
  if (n.kind === RuleKind.Backend || n.kind === RuleKind.Redirect || n.kind === RuleKind.Respond) return [];
  if (n.kind === RuleKind.Split) {
    const total = n.total ?? 1;
    return (n.branches ?? []).map((b, i) => ({ label: `${n.weights![i]} (${Math.round((n.weights![i] / total) * 1000) / 10}%)`, kind: "branch", to: b }));
  }
  const [yes, no] = n.kind === RuleKind.Limit ? ["under", "over"] : ["match", "miss"];
  return [
    { label: yes, kind: "match", to: n.succ },
    { label: no, kind: "miss", to: n.fail },
  ];
}

function terminal(n: RuleNode): boolean {
  return n.kind === RuleKind.Backend || n.kind === RuleKind.Redirect || n.kind === RuleKind.Respond;
}

function nodesOf(init: RuleNode): RuleNode[] {
  const out: RuleNode[] = [];
  const seen = new Set<string>();
  const visit = (n: RuleNode | undefined) => {
    if (!n || seen.has(n.name)) return;
    seen.add(n.name);
    out.push(n);
    for (const e of edgesOf(n)) visit(e.to);
  };
  visit(init);
  return out;
}

const EDGE_STYLE = { match: { paint: "green", dot: "darkgreen", svg: "#2a7d2a" }, miss: { paint: "yellow", dot: "darkorange", svg: "#c86400" }, branch: { paint: "cyan", dot: "steelblue", svg: "#2a5d9f" } } as const;

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

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function svg(domain: string, init: RuleNode): string {
  const nodes = nodesOf(init);
  // rows by the longest path from init (the graph has no cycles), columns in visit order
  const depth = new Map<string, number>([[init.name, 0]]);
  for (let changed = true; changed; ) {
    changed = false;
    for (const n of nodes) {
      const d = depth.get(n.name);
      if (d === undefined) continue;
      for (const { to: k } of edgesOf(n)) {
        if (k && (depth.get(k.name) ?? -1) < d + 1) {
          depth.set(k.name, d + 1);
          changed = true;
        }
      }
    }
  }
  const rows: RuleNode[][] = [];
  for (const n of nodes) (rows[depth.get(n.name)!] ??= []).push(n);
  const charW = 7.2;
  const boxW = Math.max(160, ...nodes.map((n) => Math.max(n.name.length, label(n).length) * charW + 20));
  const boxH = 44;
  const gapX = 30;
  const gapY = 60;
  const top = 50;
  const width = Math.max(...rows.map((r) => r.length)) * (boxW + gapX) + gapX;
  const height = top + rows.length * (boxH + gapY);
  const pos = new Map<string, { x: number; y: number }>();
  rows.forEach((r, i) => {
    const rowW = r.length * (boxW + gapX) - gapX;
    r.forEach((n, j) => pos.set(n.name, { x: (width - rowW) / 2 + j * (boxW + gapX), y: top + i * (boxH + gapY) }));
  });
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" font-family="monospace" font-size="12">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(domain)}</text>`,
  ];
  for (const n of nodes) {
    const a = pos.get(n.name)!;
    const edges = edgesOf(n);
    for (const [i, e] of edges.entries()) {
      const k = e.to;
      if (!k) continue;
      const name = e.label;
      const color = EDGE_STYLE[e.kind].svg;
      const b = pos.get(k.name)!;
      // the edges leave the box spread along its bottom, in order
      const x1 = a.x + (boxW * (i + 1)) / (edges.length + 1);
      const y1 = a.y + boxH;
      const x2 = b.x + boxW / 2;
      const y2 = b.y;
      parts.push(`<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${color}" stroke-width="1.5" marker-end="url(#arrow)"/>`);
      parts.push(`<text x="${(x1 + x2) / 2 + 4}" y="${(y1 + y2) / 2}" fill="${color}">${esc(name)}</text>`);
    }
  }
  for (const n of nodes) {
    const a = pos.get(n.name)!;
    const fill = n.kind === RuleKind.Backend ? "#e8f1ff" : terminal(n) ? "#fff4e0" : "#f7f7f7";
    parts.push(`<g><rect x="${a.x}" y="${a.y}" width="${boxW}" height="${boxH}" rx="${terminal(n) ? 12 : 3}" fill="${fill}" stroke="#333"/>`);
    parts.push(`<text x="${a.x + 10}" y="${a.y + 18}" font-weight="bold">${esc(n.name)}</text>`);
    parts.push(`<text x="${a.x + 10}" y="${a.y + 35}">${esc(label(n))}</text></g>`);
  }
  parts.push("</svg>");
  return parts.join("\n");
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
      if (format === "svg") return ctx.out.line(svg(domain, compiled.init));
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
