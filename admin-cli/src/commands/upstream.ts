// upstream ls | get | set | rm, server add | rm | drain | enable | offline, and switch: the
// members of /$ELBNAME/upstreams/<name>/<host:port>, written in guarded transactions.
import { groupPrefix, keyOf, policies, servers } from "../../../src-lua/core/kinds/index";
import { formatServerParams, parseServerParams } from "../../../src-lua/core/server-params";
import { Command, Ctx, str } from "../cli";
import { CliError, Guard, Kv, Op, retryTxn } from "../etcd";
import { checkMember, checkName, Problem, readCurrent, readGroup } from "../model";
import { fromAnyNode } from "../nodes";
import { paint, problemLines, table } from "../output";

const HEALTH_OPTS = ["elb", "token"];

function fail(what: string, problems: Problem[], where: string): never {
  throw new CliError(`${what}, nothing written: ${problems.length} problem${problems.length > 1 ? "s" : ""}\n${problemLines(where, problems)}`);
}

function need(name: string | undefined, usage: string): string {
  if (!name) throw new CliError(`usage: elbctl ${usage}`, 2);
  return name;
}

function checkUpstream(ctx: Ctx, name: string): void {
  const problems: Problem[] = [];
  if (!checkName(servers, name, "", problems)) fail(`invalid upstream name "${name}"`, problems, `${ctx.store().root}upstreams/${name}`);
}

function checkNewServer(ctx: Ctx, upstream: string, addr: string, params: string): void {
  checkUpstream(ctx, upstream);
  const problems: Problem[] = [];
  const key = keyOf(ctx.elbName, servers, upstream, addr);
  checkMember(servers, addr, params, "", problems);
  if (problems.length > 0) fail(`invalid server ${key}`, problems, key);
}

interface ServerRow {
  upstream: string;
  addr: string;
  params: string;
  health?: { state: string; healthy: boolean; fails: number; active: number };
}

async function rows(ctx: Ctx, only?: string): Promise<{ servers: ServerRow[]; healthFrom?: string; policies: Record<string, unknown> }> {
  const cur = await readCurrent(ctx.store());
  const health = ctx.opts["health"] === false ? undefined : await fromAnyNode(ctx, "upstream");
  const servers: ServerRow[] = [];
  const policies: Record<string, unknown> = {};
  for (const u of [...cur.upstreams.keys()].sort()) {
    if (only !== undefined && u !== only) continue;
    for (const [addr, kv] of [...cur.upstreams.get(u)!].sort()) {
      const row: ServerRow = { upstream: u, addr, params: kv.value };
      const h = health?.body?.[u]?.find?.((s: any) => s.addr === addr || s.name === addr);
      if (h) row.health = { state: h.state, healthy: h.healthy, fails: h.fails, active: h.active };
      servers.push(row);
    }
    const p = cur.policies.get(u);
    if (p) policies[u] = JSON.parse(p.value);
  }
  return { servers, healthFrom: health?.node, policies };
}

function show(ctx: Ctx, r: Awaited<ReturnType<typeof rows>>, empty: string): void {
  const { out } = ctx;
  if (r.servers.length === 0) return out.line(empty);
  const state = (s: ServerRow) => {
    if (!s.health) return "";
    const st = s.health.state;
    return paint(out, st === "up" ? "green" : st === "down" || st === "unhealthy" ? "red" : "yellow", st);
  };
  const withHealth = r.healthFrom !== undefined;
  table(
    out,
    withHealth ? ["UPSTREAM", "SERVER", "PARAMS", "STATE", "HEALTHY", "FAILS", "ACTIVE"] : ["UPSTREAM", "SERVER", "PARAMS"],
    r.servers.map((s) => {
      const base = [s.upstream, s.addr, s.params === "" ? paint(out, "dim", "-") : s.params];
      if (!withHealth) return base;
      if (!s.health) return [...base, paint(out, "dim", "not loaded yet"), "", "", ""];
      return [...base, state(s), s.health.healthy ? "yes" : paint(out, "red", "no"), String(s.health.fails), String(s.health.active)];
    }),
  );
  out.line(paint(out, "dim", withHealth ? `health as seen by ${r.healthFrom}` : "health: no ELB node reachable (see elbctl status, or pass --elb host:port)"));
}

async function setState(ctx: Ctx, upstream: string | undefined, addr: string | undefined, state: "drain" | "enable" | "offline"): Promise<void> {
  const u = need(upstream, `server ${state} <upstream> <host:port>`);
  const a = need(addr, `server ${state} <upstream> <host:port>`);
  const key = keyOf(ctx.elbName, servers, u, a);
  let value = "";
  const rev = await retryTxn(`server ${state} ${u} ${a}`, async () => {
    const kv = await ctx.store().get(key);
    if (!kv) throw new CliError(`${a} is not a member of ${u} (no key ${key}); add it with: elbctl server add ${u} ${a}`);
    const problems: Problem[] = [];
    const p = parseServerParams(kv.value, "", problems);
    if (!p) fail(`${key} holds invalid params "${kv.value}"; fix them with elbctl server add ${u} ${a} --params ...`, problems, key);
    p.drain = state === "drain";
    p.down = state === "offline";
    value = formatServerParams(p);
    return ctx.store().txn([{ key, modRevision: kv.modRevision }], [{ put: key, value, lease: kv.lease }]);
  });
  ctx.wrote = rev;
  const word = state === "drain" ? "draining" : state === "offline" ? "offline" : "enabled";
  ctx.out.print(() => ctx.out.line(`${u} ${a}: ${word} (params "${value}")`), { upstream: u, server: a, state: word, params: value, revision: rev });
}

export const upstreamCommands: Command[] = [
  {
    name: "upstream ls",
    args: "[--elb host:port] [--no-health]",
    summary: "every upstream's servers with their params and, when an ELB node answers, their health",
    details: "Health comes from GET /__erulb__/upstream of the first node that answers: --elb (comma-separated), else the nodes in /$ELBNAME/nodes/. --token or ELB_ADMIN_TOKEN when the API needs one.",
    valued: HEALTH_OPTS,
    flags: ["health"],
    async run(ctx) {
      const r = await rows(ctx);
      ctx.out.print(() => show(ctx, r, `no upstreams under ${ctx.elbName}/upstreams/`), r);
    },
  },
  {
    name: "upstream get",
    args: "<name>",
    summary: "one upstream: servers, params, health and policy",
    valued: HEALTH_OPTS,
    flags: ["health"],
    async run(ctx, [name]) {
      const u = need(name, "upstream get <name>");
      const r = await rows(ctx, u);
      if (r.servers.length === 0) throw new CliError(`no upstream ${u} (no keys under ${groupPrefix(ctx.elbName, servers, u)})`);
      ctx.out.print(() => {
        show(ctx, r, "");
        if (r.policies[u] !== undefined) ctx.out.line(`policy: ${JSON.stringify(r.policies[u])}`);
      }, { upstream: u, servers: r.servers, policy: r.policies[u] ?? null, healthFrom: r.healthFrom ?? null });
    },
  },
  {
    name: "upstream set",
    args: "<name> <host:port>[=params]...",
    summary: "replace an upstream's servers in one transaction (e.g. 10.0.0.1:80='weight=2 backup')",
    optional: ["wait"],
    async run(ctx, [name, ...members]) {
      const u = need(name, "upstream set <name> <host:port>[=params]...");
      if (members.length === 0) throw new CliError("an upstream needs at least one server: elbctl upstream set <name> <host:port>[=params]... (elbctl upstream rm removes one)", 2);
      checkUpstream(ctx, u);
      const want = new Map<string, string>();
      const problems: Problem[] = [];
      for (const m of members) {
        const eq = m.indexOf("=");
        const addr = eq >= 0 ? m.substring(0, eq) : m;
        const params = eq >= 0 ? m.substring(eq + 1) : "";
        checkMember(servers, addr, params, `/${addr}`, problems);
        want.set(addr, params);
      }
      const prefix = groupPrefix(ctx.elbName, servers, u);
      if (problems.length > 0) fail(`invalid servers for ${prefix}`, problems, prefix.replace(/\/$/, ""));
      let changed = 0;
      const rev = await retryTxn(`upstream set ${u}`, async () => {
        const have = await readGroup(ctx.store(), servers, u);
        const guards: Guard[] = [];
        const ops: Op[] = [];
        for (const [a, kv] of have) {
          guards.push({ key: kv.key, modRevision: kv.modRevision });
          if (!want.has(a)) ops.push({ del: kv.key });
        }
        for (const [a, p] of want) {
          const kv = have.get(a);
          if (!kv) guards.push({ key: keyOf(ctx.elbName, servers, u, a), modRevision: 0 });
          if (!kv || kv.value !== p) ops.push({ put: keyOf(ctx.elbName, servers, u, a), value: p });
        }
        changed = ops.length;
        return ctx.store().txn(guards, ops);
      });
      if (changed > 0) ctx.wrote = rev;
      ctx.out.print(() => ctx.out.line(`set ${u}: ${want.size} server${want.size > 1 ? "s" : ""} (${changed} key${changed === 1 ? "" : "s"} changed)`), { upstream: u, servers: Object.fromEntries(want), changed, revision: rev });
    },
  },
  {
    name: "upstream rm",
    args: "<name> [--policy]",
    summary: "remove every server of an upstream (--policy: its policy too)",
    optional: ["wait"],
    flags: ["policy"],
    async run(ctx, [name]) {
      const u = need(name, "upstream rm <name>");
      const have = await readGroup(ctx.store(), servers, u);
      const pkv = ctx.opts.policy ? await ctx.store().get(keyOf(ctx.elbName, policies, u)) : undefined;
      if (have.size === 0 && !pkv) throw new CliError(`no upstream ${u} (no keys under ${groupPrefix(ctx.elbName, servers, u)})`);
      const ops: Op[] = [{ del: groupPrefix(ctx.elbName, servers, u), prefix: true }];
      if (pkv) ops.push({ del: pkv.key });
      const rev = await ctx.store().txn([], ops);
      if (rev !== false) ctx.wrote = rev;
      ctx.out.print(() => ctx.out.line(`removed ${u} (${have.size} server${have.size === 1 ? "" : "s"}${pkv ? ", and its policy" : ""})`), { upstream: u, removed: [...have.keys()], policy: Boolean(pkv), revision: rev });
    },
  },
  {
    name: "server add",
    args: "<upstream> <host:port> [--params 'weight=2 ...']",
    summary: "add a server to an upstream (or set the params of one already there)",
    optional: ["wait"],
    valued: ["params"],
    async run(ctx, [upstream, addr]) {
      const u = need(upstream, "server add <upstream> <host:port> [--params ...]");
      const a = need(addr, "server add <upstream> <host:port> [--params ...]");
      const params = str(ctx, "params") ?? "";
      checkNewServer(ctx, u, a, params);
      const key = keyOf(ctx.elbName, servers, u, a);
      const old = await ctx.store().get(key);
      const rev = await ctx.store().txn([], [{ put: key, value: params }]);
      if (rev !== false) ctx.wrote = rev;
      const what = old ? (old.value === params ? "already there" : `params "${old.value}" -> "${params}"`) : "added";
      ctx.out.print(() => ctx.out.line(`${u} ${a}: ${what}`), { upstream: u, server: a, params, added: !old, revision: rev });
    },
  },
  {
    name: "server rm",
    args: "<upstream> <host:port>",
    summary: "remove a server from an upstream",
    optional: ["wait"],
    async run(ctx, [upstream, addr]) {
      const u = need(upstream, "server rm <upstream> <host:port>");
      const a = need(addr, "server rm <upstream> <host:port>");
      const key = keyOf(ctx.elbName, servers, u, a);
      const kv = await ctx.store().get(key);
      if (!kv) throw new CliError(`${a} is not a member of ${u} (no key ${key})`);
      const rev = await ctx.store().txn([], [{ del: key }]);
      if (rev !== false) ctx.wrote = rev;
      ctx.out.print(() => ctx.out.line(`${u} ${a}: removed`), { upstream: u, server: a, removed: true, revision: rev });
    },
  },
  {
    name: "server drain",
    args: "<upstream> <host:port>",
    summary: "no new clients for the server (sticky ones stay): adds drain, removes down",
    optional: ["wait"],
    run: (ctx, [u, a]) => setState(ctx, u, a, "drain"),
  },
  {
    name: "server enable",
    args: "<upstream> <host:port>",
    summary: "back in service: removes drain and down, keeps the other params",
    optional: ["wait"],
    run: (ctx, [u, a]) => setState(ctx, u, a, "enable"),
  },
  {
    name: "server offline",
    args: "<upstream> <host:port>",
    summary: "never used: adds down, removes drain",
    optional: ["wait"],
    run: (ctx, [u, a]) => setState(ctx, u, a, "offline"),
  },
  {
    name: "switch",
    args: "<upstream> <host:port> [--params '...']",
    summary: "in one transaction, make this server the only member (blue/green; switching back is the same command)",
    optional: ["wait"],
    details: "The server keeps its params when it is already a member; otherwise it gets --params (default none). Every other member is removed in the same etcd transaction, so a reader sees either the old members or the new one, never a mix or an empty upstream.",
    valued: ["params"],
    async run(ctx, [upstream, addr]) {
      const u = need(upstream, "switch <upstream> <host:port>");
      const a = need(addr, "switch <upstream> <host:port>");
      const given = str(ctx, "params");
      checkNewServer(ctx, u, a, given ?? "");
      const key = keyOf(ctx.elbName, servers, u, a);
      let removed: string[] = [];
      let params = "";
      let writes = 0;
      const rev = await retryTxn(`switch ${u}`, async () => {
        const have = await readGroup(ctx.store(), servers, u);
        if (have.size === 0) throw new CliError(`no upstream ${u} (no keys under ${groupPrefix(ctx.elbName, servers, u)}); create it with elbctl upstream set ${u} ${a}`);
        const guards: Guard[] = [];
        const ops: Op[] = [];
        removed = [];
        for (const [other, kv] of have) {
          guards.push({ key: kv.key, modRevision: kv.modRevision });
          if (other !== a) {
            ops.push({ del: kv.key });
            removed.push(other);
          }
        }
        const cur: Kv | undefined = have.get(a);
        params = given ?? cur?.value ?? "";
        if (!cur) guards.push({ key, modRevision: 0 });
        if (!cur || cur.value !== params) ops.push({ put: key, value: params, lease: cur?.lease });
        writes = ops.length;
        return ctx.store().txn(guards, ops);
      });
      if (writes > 0) ctx.wrote = rev;
      ctx.out.print(
        () => ctx.out.line(`switched ${u} to ${a}${removed.length ? ` (removed ${removed.join(", ")})` : " (already the only member)"}`),
        { upstream: u, server: a, params, removed, revision: rev },
      );
    },
  },
];
