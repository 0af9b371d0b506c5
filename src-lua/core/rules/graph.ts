// A compiled rule graph described for drawing: every rule reachable from init with a one-line
// label, and the edges (a matcher's match/miss, a limit's under/over, a split's branches with
// their shares). elbctl graph (tree, dot, svg) and the engine's GET /__erulb__/graph (which the
// dashboard draws with ui/graph-layout.js, as elbctl's svg does) both read this. Pure: the
// same text under Node and LuaJIT (labels of non-ASCII respond bodies count UTF-16 units in
// Node and bytes in Lua).
import { RuleKind, RuleNode, Template } from "./node";

export interface GraphNode {
  name: string;
  type: string;
  label: string;
  /** backend, redirect, respond: the walk ends here */
  terminal: boolean;
  /** backend: the upstream name or literal host:port */
  upstream?: string;
}

export interface GraphEdge {
  from: string;
  /** absent: the walk ends there with 403 */
  to?: string;
  label: string;
  kind: "match" | "miss" | "branch";
}

export interface Graph {
  init: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

function dollars(s: string): string {
  return s.split("$").join("$$");
}

/** A template as written: parts, $1.., $name. */
export function templateText(t: Template): string {
  const out: string[] = [];
  for (let i = 0; i < t.parts.length; i++) {
    if (t.caps[i] > 0) out.push(`$${t.caps[i]}`);
    else if (t.vars[i] !== "") out.push(`$${t.vars[i]}`);
    else out.push(dollars(t.parts[i]));
  }
  return out.join("");
}

/** "10/second, burst 5" from the compiled interval and capacity. */
function limitText(n: RuleNode): string {
  const interval = n.interval ?? 1;
  const pers: [string, number][] = [["second", 1], ["minute", 60], ["hour", 3600]];
  for (const [per, secs] of pers) {
    const rate = secs / interval;
    const whole = Math.round(rate);
    if (Math.abs(rate - whole) < 1e-9) {
      const burst = (n.capacity ?? 0) - whole;
      return `${whole}/${per}${burst > 0 ? `, burst ${burst}` : ""}`;
    }
  }
  return `1 per ${interval} s`;
}

function sortedKeys(t: { [k: string]: boolean } | undefined): string[] {
  const out: string[] = [];
  if (t === undefined) return out;
  for (const k in t) out.push(k);
  out.sort();
  return out;
}

/** "name: value, ...": set_response_headers shows "" as (removed) */
function pairs(names: string[], values: string[], removed: boolean): string {
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) out.push(`${names[i]}: ${removed && values[i] === "" ? "(removed)" : values[i]}`);
  return out.join(", ");
}

/** The one-line description of a rule. */
export function ruleLabel(n: RuleNode): string {
  switch (n.kind) {
    case RuleKind.Backend: {
      const headers = pairs(n.headerNames, n.headerValues, false);
      const resp = n.responseHeaderNames === undefined ? "" : pairs(n.responseHeaderNames, n.responseHeaderValues!, true);
      const lit = n.literal ? " (literal)" : "";
      const rw = n.pathTemplate !== undefined ? ` rewrite ${templateText(n.pathTemplate)}` : "";
      return `backend -> ${n.server}${lit}${headers !== "" ? ` [${headers}]` : ""}${rw}${resp !== "" ? ` answer [${resp}]` : ""}`;
    }
    case RuleKind.Ua:
      return `ua ~* ${n.pattern}`;
    case RuleKind.Path:
      return `path ${n.regex ? "~" : "^="} ${n.pattern}${n.rewrite ? " (rewrite)" : ""}`;
    case RuleKind.Header:
    case RuleKind.Cookie:
    case RuleKind.Query:
      return `${n.type} ${n.written} ${n.regex ? "~" : "=="} ${n.pattern}`;
    case RuleKind.Method:
      return `method ${sortedKeys(n.methods).join("|")}`;
    case RuleKind.Ip:
      return `ip in ${n.written}`;
    case RuleKind.Scheme:
      return `scheme ${n.variable}`;
    case RuleKind.Split:
      return `split${n.written !== undefined && n.written !== "" ? ` sticky by ${n.written}` : " (random)"}`;
    case RuleKind.Limit:
      return `limit ${limitText(n)}${n.keyVar !== undefined && n.keyVar !== "" ? ` per ${n.written}` : " for all clients"}`;
    case RuleKind.Redirect:
      return `redirect ${n.status} -> ${templateText(n.location!)}`;
    case RuleKind.Respond:
      return `respond ${n.status} ${n.contentType} (${n.body === undefined ? 0 : n.body.length} bytes)`;
  }
  return n.type;
}

export function isTerminal(n: RuleNode): boolean {
  return n.kind === RuleKind.Backend || n.kind === RuleKind.Redirect || n.kind === RuleKind.Respond;
}

/** "95 (95%)": a branch's weight and its share of the split, to a tenth of a percent. */
function share(weight: number, total: number): string {
  const tenths = Math.round((weight / total) * 1000);
  const whole = Math.floor(tenths / 10);
  const rest = tenths - whole * 10;
  return `${weight} (${whole}${rest > 0 ? `.${rest}` : ""}%)`;
}

/** The rules `n` leads to, in order, with what each edge means (to: undefined ends with 403). */
export function edgesOf(n: RuleNode): { label: string; kind: "match" | "miss" | "branch"; to: RuleNode | undefined }[] {
  const out: { label: string; kind: "match" | "miss" | "branch"; to: RuleNode | undefined }[] = [];
  if (isTerminal(n)) return out;
  if (n.kind === RuleKind.Split) {
    const total = n.total ?? 1;
    const branches = n.branches ?? [];
    for (let i = 0; i < branches.length; i++) out.push({ label: share(n.weights![i], total), kind: "branch", to: branches[i] });
    return out;
  }
  const limit = n.kind === RuleKind.Limit;
  out.push({ label: limit ? "under" : "match", kind: "match", to: n.succ });
  out.push({ label: limit ? "over" : "miss", kind: "miss", to: n.fail });
  return out;
}

/** Every rule reachable from init, depth first in edge order (init first). */
export function reachable(init: RuleNode): RuleNode[] {
  const out: RuleNode[] = [];
  const seen: { [name: string]: boolean } = {};
  const stack: RuleNode[] = [init];
  // an explicit stack in reverse edge order visits like the recursion elbctl had
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen[n.name]) continue;
    seen[n.name] = true;
    out.push(n);
    const edges = edgesOf(n);
    for (let i = edges.length - 1; i >= 0; i--) {
      const to = edges[i].to;
      if (to !== undefined && !seen[to.name]) stack.push(to);
    }
  }
  return out;
}

export function describeGraph(init: RuleNode): Graph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  for (const n of reachable(init)) {
    nodes.push({ name: n.name, type: n.type, label: ruleLabel(n), terminal: isTerminal(n), upstream: n.kind === RuleKind.Backend ? n.server : undefined });
    for (const e of edgesOf(n)) edges.push({ from: n.name, to: e.to === undefined ? undefined : e.to.name, label: e.label, kind: e.kind });
  }
  return { init: init.name, nodes, edges };
}
