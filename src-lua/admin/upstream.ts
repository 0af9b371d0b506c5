// /__erulb__/upstream: GET {name: [server, ...]}; PUT {name: {"host:port": "params"}} replaces
// the named upstreams' server lists (others untouched); DELETE ["name", ...] answers
// {name: true|false}, true when the upstream existed.
import { servers as kind } from "../core/kinds/index";
import { upstreams } from "../config/view";
import * as health from "../health/report";
import * as reply from "./reply";
import * as resource from "./resource";

export function get(): void {
  const out = new LuaTable<string, unknown[]>();
  for (const [name, up] of upstreams) {
    const addrs: string[] = [];
    for (const [addr] of up.servers) addrs.push(addr);
    table.sort(addrs);
    const list: unknown[] = [];
    for (const addr of addrs) {
      const p = up.servers.get(addr)!.params;
      const s = new LuaTable<string, unknown>();
      s.set("addr", addr);
      s.set("name", addr);
      s.set("params", up.servers.get(addr)!.raw);
      s.set("weight", p.weight);
      s.set("max_fails", p.maxFails);
      s.set("fail_timeout", p.failTimeout);
      if (p.backup) s.set("backup", true);
      if (p.down) s.set("down", true);
      if (p.drain) s.set("drain", true);
      if (p.slowStart > 0) s.set("slow_start", p.slowStart);
      const h = health.serverHealth(`${name}|${addr}`, p, up.policy.healthcheck !== undefined);
      s.set("state", h.state);
      s.set("healthy", h.healthy);
      s.set("fails", h.fails);
      s.set("active", h.active);
      s.set("changes", h.changes);
      if (h.checkedAt !== undefined) s.set("checked_at", h.checkedAt);
      list.push(s);
    }
    out.set(name, list);
  }
  reply.json(200, out);
}

export function put(): void {
  resource.put(kind);
}

export function del(): void {
  const written = resource.remove(kind);
  if (written === undefined) return;
  const out = new LuaTable<string, boolean>();
  for (const [name, existed] of written.existed) out.set(name, existed);
  reply.json(200, out);
}
