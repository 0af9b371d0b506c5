// GET /__erulb__/graph: the domains' rule graphs as the dashboard draws them (ui/graph-layout.js),
// described by the engine's own core (core/rules/graph.ts, as elbctl graph does):
// {total, domains: {name: {init, nodes, edges}}}, the first ?limit=N domains by name (default
// 100, at most 1000), or ?domain=NAME alone (404 when there is none).
import { describeGraph } from "../core/rules/graph";
import { domains } from "../config/view";
import * as reply from "./reply";

export function get(): void {
  const args = ngx.req.get_uri_args();
  const one = args["domain"];
  const out = new LuaTable<string, object>();
  if (typeof one === "string") {
    const d = domains.get(one);
    if (d === undefined) return reply.fail(404, `no domain ${one}`);
    out.set(one, describeGraph(d.rules.init));
    return reply.json(200, { total: 1, domains: out });
  }
  const given = args["limit"];
  const asked = (typeof given === "string" ? tonumber(given) : undefined) ?? 100;
  const limit = asked < 1 ? 1 : asked > 1000 ? 1000 : asked;
  const names: string[] = [];
  for (const [name] of domains) names.push(name);
  table.sort(names);
  for (let i = 0; i < names.length && i < limit; i++) out.set(names[i], describeGraph(domains.get(names[i])!.rules.init));
  reply.json(200, { total: names.length, domains: out });
}
