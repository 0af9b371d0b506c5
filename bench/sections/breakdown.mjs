// Where ELB's time goes: the CPU per request of a ladder of configurations, from plain nginx
// to the full ELB, each adding one piece (ELB's nginx.conf with no per-request Lua, a Lua
// balancer that sets a fixed peer, an empty access_by_lua, ELB's access phase, its balancer,
// each further phase in the order of the config, statsd, Prometheus metrics), interleaved; then a CPU profile of
// the full ELB's worker with perf when perf works here.
//
// The rungs are variants of the nginx.conf that nginx/launch.sh renders, run by nginx directly
// with the same environment; the engine's code is not changed.
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { interleave, measure, ratiosTo } from "../lib/measure.mjs";
import { freePort, run, sleep, start, stop, tmpDir } from "../../test/harness/index.mjs";
import { DOMAIN } from "../lib/rules.mjs";
import { startElb, startElbConf, startPlainNginx } from "../lib/servers.mjs";
import { fmt, int, pct, ratio, signed } from "../lib/stats.mjs";
import { wrk } from "../lib/wrk.mjs";
import { checkAnswer, configureElb } from "./proxy.mjs";

const PHASE_LINE = /^([ \t]*)(\w+)_by_lua_block \{ require\("phases\.(\w+)"\)\.run\(\) \}[ \t]*\n/gm;

/** wrk pacing for the ladder: 100 connections, 4 ms between a response and the next request. */
const PACE = { connections: 100, delayMs: 4 };


/**
 * ELB's nginx.conf as launch.sh rendered it into `dir`, with the files it includes from there
 * (locations.conf, proxy.conf, tls-server.conf) written in place: the rungs run elsewhere, and
 * edit `location /` as one block.
 */
export function renderedConf(dir) {
  const inline = (text, depth) =>
    text.replace(/^([ \t]*)include ([\w.-]+\.conf);[ \t]*$/gm, (line, indent, file) => {
      if (depth > 3 || !existsSync(join(dir, file))) return line;
      return inline(readFileSync(join(dir, file), "utf8"), depth + 1).replace(/^/gm, indent);
    });
  return inline(readFileSync(join(dir, "nginx.conf"), "utf8"), 0);
}

/** The text of the `location / { ... }` block (start and end offsets). */
function locationBlock(conf) {
  const start = conf.indexOf("location / {");
  if (start < 0) throw new Error("breakdown: no `location / {` in ELB's nginx.conf");
  let depth = 0;
  for (let i = conf.indexOf("{", start); i < conf.length; i++) {
    if (conf[i] === "{") depth++;
    else if (conf[i] === "}" && --depth === 0) return { start, end: i + 1 };
  }
  throw new Error("breakdown: unbalanced braces in ELB's nginx.conf");
}

/**
 * The rungs, from ELB's rendered conf: [{id, label, conf(port), statsd, prometheus}], cumulative
 * (run with ELB_METRICS=off unless `prometheus`).
 */
export function ladder(conf, backendAddr) {
  const balancerLine = /^([ \t]*)balancer_by_lua_block \{ require\("phases\.balancer"\)\.run\(\) \}[ \t]*\n/m;
  if (!balancerLine.test(conf)) throw new Error("breakdown: no ELB balancer_by_lua_block line");
  const { start, end } = locationBlock(conf);
  const loc = conf.slice(start, end);
  const phases = [...loc.matchAll(PHASE_LINE)].map((m) => ({ directive: m[2], module: m[3], line: m[0], indent: m[1] }));
  const access = phases.find((p) => p.directive === "access");
  if (!access) throw new Error("breakdown: no access_by_lua_block in location /");
  const others = phases.filter((p) => p !== access);
  const listen = /listen \S+ backlog=4096;/;
  if (!listen.test(conf)) throw new Error("breakdown: no listen line");

  // builds a conf from choices: balancer: "static" | "fixed" | "elb"; access: "none" | "empty" | "elb"; extra: phases kept
  const build = (port, { balancer, access: acc, extra }) => {
    let l = loc.replace(PHASE_LINE, (line, indent, directive, module) => {
      if (directive === "access") {
        if (acc === "elb") return line;
        if (acc === "empty") return `${indent}access_by_lua_block { }\n`;
        return "";
      }
      return extra.includes(module) ? line : "";
    });
    let c = conf.slice(0, start) + l + conf.slice(end);
    if (balancer === "static") {
      c = c.replace(balancerLine, "").replace(/server 0\.0\.0\.1;/, `server ${backendAddr};`);
    } else if (balancer === "fixed") {
      const [host, p] = backendAddr.split(":");
      c = c.replace(balancerLine, (_, indent) => `${indent}balancer_by_lua_block { require("ngx.balancer").set_current_peer("${host}", ${p}) }\n`);
    }
    return c.replace(listen, `listen 127.0.0.1:${port} backlog=4096;`);
  };

  const rungs = [
    { id: "elb-conf", label: "ELB's nginx.conf, no per-request Lua (static upstream)", opts: { balancer: "static", access: "none", extra: [] } },
    { id: "lua-balancer", label: "+ balancer_by_lua setting a fixed peer", opts: { balancer: "fixed", access: "none", extra: [] } },
    { id: "empty-access", label: "+ an empty access_by_lua", opts: { balancer: "fixed", access: "empty", extra: [] } },
    { id: "elb-access", label: "+ ELB's access phase (Host lookup, ua and path regexes, ngx.ctx)", opts: { balancer: "fixed", access: "elb", extra: [] } },
    { id: "elb-balancer", label: "+ ELB's balancer phase (policy, health, round robin)", opts: { balancer: "elb", access: "elb", extra: [] } },
  ];
  const kept = [];
  for (const p of others) {
    kept.push(p.module);
    rungs.push({ id: `elb-${p.module}`, label: `+ ELB's ${p.directive} phase${p.module === "log" ? " (statsd off)" : ""}`, opts: { balancer: "elb", access: "elb", extra: [...kept] } });
  }
  rungs.push({ id: "elb-statsd", label: "+ statsd on", opts: { balancer: "elb", access: "elb", extra: [...kept] }, statsd: true });
  // the rungs before run with ELB_METRICS=off: this one adds the per-worker Prometheus counts
  rungs.push({ id: "elb-prometheus", label: "+ Prometheus metrics on = the full ELB", opts: { balancer: "elb", access: "elb", extra: [...kept] }, statsd: true, prometheus: true });
  return rungs.map((r) => ({ ...r, conf: (port) => build(port, r.opts) }));
}

/** perf's flat profile of one process for `seconds` while wrk loads it; undefined when perf does not work. */
async function perfProfile(proxy, { seconds, wrkOpts, dir }) {
  const probe = await run("perf", ["record", "-e", "cpu-clock", "-o", join(dir, "probe.data"), "true"], { timeoutMs: 20000 }).catch(() => undefined);
  if (!probe || probe.code !== 0) return { available: false, why: probe ? probe.stderr.trim().split("\n").pop() : "perf not found" };
  const pid = proxy.workers()[0];
  const data = join(dir, "perf.data");
  const load = wrk({ port: proxy.port, ...wrkOpts, duration: seconds + 2 });
  await sleep(1000);
  const rec = start("perf", "perf", ["record", "-e", "cpu-clock", "-F", "2999", "-p", String(pid), "-o", data, "--", "sleep", String(seconds)], { stopSignal: "SIGINT" });
  await rec.exited;
  await stop(rec);
  await load;
  const report = (sort, fields) =>
    run("perf", ["report", "-i", data, "--stdio", "--no-children", "--sort", sort, "-F", fields, "-t", "|", "--percent-limit", "0.3"], { timeoutMs: 60000 });
  const parse = (text) =>
    text
      .split("\n")
      .filter((l) => /^\s*\d+\.\d+%/.test(l))
      .map((l) => {
        const [pct, dso, sym] = l.split("|").map((x) => x.trim());
        return { pct: Number(pct.replace("%", "")), dso: dso.startsWith("[JIT]") ? "[JIT] (compiled Lua)" : dso, symbol: (sym ?? "").replace(/^\[[.k]\]\s*/, "") };
      });
  const raw = parse((await report("dso,sym", "overhead,dso,sym")).stdout);
  const jit = raw.filter((x) => x.dso.startsWith("[JIT]")).reduce((a, x) => a + x.pct, 0);
  const symbols = raw.filter((x) => !x.dso.startsWith("[JIT]"));
  if (jit > 0) symbols.push({ pct: Math.round(jit * 100) / 100, dso: "[JIT] (compiled Lua)", symbol: "all traces above 0.3% together" });
  symbols.sort((a, b) => b.pct - a.pct);
  const dsos = parse((await run("perf", ["report", "-i", data, "--stdio", "--no-children", "--sort", "dso", "-F", "overhead,dso", "-t", "|"], { timeoutMs: 60000 })).stdout);
  const merged = new Map();
  for (const d of dsos) merged.set(d.dso, (merged.get(d.dso) ?? 0) + d.pct);
  const byDso = [...merged].map(([dso, pct]) => ({ dso, pct: Math.round(pct * 100) / 100 })).sort((a, b) => b.pct - a.pct);
  return { available: true, seconds, hz: 2999, symbols: symbols.slice(0, 80), dsos: byDso };
}

/** Copies the domain and upstream keys of /<from>/ to /<to>/ in etcd. */
export async function copyConfig(etcd, from, to) {
  const kvs = await etcd.getPrefix(`/${from}/`);
  const out = {};
  for (const [k, v] of kvs) if (/^\/[^/]+\/(rules|upstreams|policies)\//.test(k)) out[`/${to}/${k.slice(from.length + 2)}`] = v;
  if (Object.keys(out).length === 0) throw new Error(`no configuration under /${from}/ to copy`);
  await etcd.putMany(out);
}

/**
 * The full ELB with LuaJIT's jit.v on (written from init_worker): which traces compile and
 * which abort, and why, while it serves the paced load. Aborted code runs in the interpreter.
 */
async function jitTraces(ctx, { conf, etcd, statsd, elbName, wrkOpts, seconds }) {
  const dir = tmpDir("jitv");
  chmodSync(dir, 0o777);
  const file = join(dir, "jitv.txt");
  const line = 'init_worker_by_lua_block { require("phases.init_worker").run() }';
  if (!conf.includes(line)) return { available: false, why: "no init_worker_by_lua_block line to hook" };
  const port = await freePort();
  const c = conf.replace(line, `init_worker_by_lua_block { require("jit.v").start("${file}") require("phases.init_worker").run() }`).replace(/listen \S+ backlog=4096;/, `listen 127.0.0.1:${port} backlog=4096;`);
  await copyConfig(etcd, elbName, `${elbName}JIT`);
  const h = await startElbConf({ name: "elb-jitv", conf: c, port, env: { ETCD: etcd.endpoint, ELBNAME: `${elbName}JIT`, STATSD: statsd.addr }, cpu: ctx.cpus.proxy, expectDomains: 1 });
  try {
    await wrk({ port, ...wrkOpts, duration: seconds });
  } finally {
    await h.stop();
  }
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return { available: false, why: `no jit.v output: ${e.message}` };
  }
  const lines = text.split("\n");
  const compiled = lines.filter((l) => /^\[TRACE\s+\d+ /.test(l)).length;
  const aborts = new Map();
  for (const l of lines) {
    const m = l.match(/^\[TRACE ---(?: \(\d+\/\d+\))? (\S+) -- (.*)\]$/);
    if (!m) continue;
    const key = `${m[2]} (trace started at ${m[1]})`;
    aborts.set(key, (aborts.get(key) ?? 0) + 1);
  }
  const list = [...aborts].map(([what, n]) => ({ what, n })).sort((a, b) => b.n - a.n);
  return { available: true, compiled, aborted: list.reduce((a, x) => a + x.n, 0), aborts: list.slice(0, 15) };
}

export default {
  id: "breakdown",
  title: "Where ELB's time goes",
  async run(ctx) {
    const rounds = ctx.quick ? 2 : 3;
    const duration = 2;
    const backend = await ctx.shared.backend();
    const server = backend.addrs[0];
    const etcd = await ctx.shared.etcd();
    const statsd = await ctx.shared.statsd();
    const elbName = "BREAK";
    // launch.sh renders the conf (and the domain and upstreams go to etcd through the API)
    const renderer = await startElb({ etcd: etcd.endpoint, elbName, waitLoaded: true });
    await configureElb(renderer, server);
    const conf = renderedConf(renderer.dir);
    await renderer.stop();
    const rungs = ladder(conf, server);
    const procs = [];
    try {
      const nginx = await startPlainNginx({ servers: [server], cpu: ctx.cpus.proxy });
      procs.push(nginx);
      const targets = [{ id: "nginx", label: "plain nginx (proxy_pass, static upstream)", proxy: nginx }];
      for (const r of rungs) {
        const port = await freePort();
        // every rung is its own node under its own prefix: nodes sharing one would be a fleet
        const name = `${elbName}${targets.length}`;
        await copyConfig(etcd, elbName, name);
        const env = { ETCD: etcd.endpoint, ELBNAME: name };
        if (r.statsd) env.STATSD = statsd.addr;
        env.ELB_METRICS = r.prometheus ? "on" : "off";
        const h = await startElbConf({ name: r.id, conf: r.conf(port), port, env, cpu: ctx.cpus.proxy, expectDomains: 1 });
        h.name = r.id;
        procs.push(h);
        targets.push({ id: r.id, label: r.label, proxy: h });
      }
      for (const t of targets) await checkAnswer(t.id, t.proxy);
      // paced: every rung gets (nearly) the same request rate, so CPU per request is compared
      // at the same operating point (a saturated worker batches more and costs less per request)
      const opts = { host: DOMAIN, duration, connections: PACE.connections, cpu: ctx.cpus.load, generator: "wrk-paced.lua", env: { WRK_DELAY_MS: String(PACE.delayMs) } };
      for (const t of targets) await measure(t.proxy, { ...opts, duration: 1 });
      const r = await interleave(targets.map((t) => ({ ...t, opts })), { rounds, log: ctx.log });
      const row = (t, prevId) => {
        const med = r[t.id].median;
        const prev = prevId ? r[prevId].median : undefined;
        return {
          id: t.id,
          label: t.label,
          rps: med.rps,
          cpu_us_per_req: med.cpu_us_per_req,
          user_us_per_req: med.user_us_per_req,
          sys_us_per_req: med.sys_us_per_req,
          p99_ms: med.p99_ms,
          delta_us: prev ? Math.round((med.cpu_us_per_req - prev.cpu_us_per_req) * 100) / 100 : undefined,
          ratio_to_nginx: ratiosTo(r, t.id, "nginx"),
        };
      };
      const steps = targets.map((t, i) => row(t, i > 0 ? targets[i - 1].id : undefined));
      const full = procs[1 + rungs.findIndex((x) => x.id === "elb-prometheus")];
      const seconds = 3;
      const profile = await perfProfile(full, { seconds, wrkOpts: opts, dir: tmpDir("perf") });
      if (profile.available) profile.nginx = await perfProfile(nginx, { seconds, wrkOpts: opts, dir: tmpDir("perf") });
      const jit = await jitTraces(ctx, { conf: rungs.find((x) => x.id === "elb-prometheus").conf(0), etcd, statsd, elbName, wrkOpts: opts, seconds: ctx.quick ? 2 : 3 }).catch((e) => ({ available: false, why: e.message }));
      return { rounds, duration_s: duration, pace: PACE, steps, runs: r, profile, jit };
    } finally {
      for (const p of procs.reverse()) await p.stop();
    }
  },

  markdown(res) {
    const L = [];
    const base = res.steps[0].cpu_us_per_req;
    const full = res.steps[res.steps.length - 1];
    L.push(`Each rung adds one piece to the one above; all run interleaved (${res.rounds} rounds of ${res.duration_s} s, keepalive, the same request as above), ` +
      `at a paced load: wrk with ${res.pace?.connections} connections, each waiting ${res.pace?.delayMs} ms after a response before its next request, so every rung serves about the same rate ` +
      `(a saturated worker batches more events per wake-up and costs less per request; pacing keeps that equal). ` +
      `The rungs are variants of the nginx.conf that launch.sh renders, run by nginx with the same environment; the engine's code is unchanged. ` +
      `"Δ" is the CPU per request this rung adds to the one above it; differences under about 0.5 µs are noise (CPU time has a 10 ms tick).`, "");
    L.push("| rung | req/s (paced) | CPU µs/req | user + sys | Δ µs/req | CPU vs nginx | share of ELB's extra CPU |");
    L.push("|---|---:|---:|---:|---:|---:|---:|");
    const extra = full.cpu_us_per_req - base;
    for (const s of res.steps) {
      const share = s.delta_us !== undefined && extra > 0 ? pct(s.delta_us / extra, 0) : "";
      L.push(`| ${s.label} | ${int(s.rps)} | ${fmt(s.cpu_us_per_req, 2)} | ${fmt(s.user_us_per_req, 1)} + ${fmt(s.sys_us_per_req, 1)} | ${s.delta_us === undefined ? "" : signed(s.delta_us)} | ${ratio(s.ratio_to_nginx.cpu_us_per_req)} | ${share} |`);
    }
    L.push("", `The full ELB costs ${fmt(extra, 2)} µs of CPU per request more than plain nginx (${ratio(full.cpu_us_per_req / base)}).`);
    const p = res.profile;
    if (p && p.available) {
      const fullUs = full.cpu_us_per_req;
      const nginxUs = base;
      const objects = new Map();
      const short = (d) => (d === "[kernel.kallsyms]" ? "kernel" : d === "libluajit-5.1.so.2.1.0" ? "LuaJIT runtime (libluajit: interpreter, GC, strings, tables)" : d === "[JIT] (compiled Lua)" ? "compiled Lua (LuaJIT traces)" : d === "ngx_http_lua_module.so" ? "ngx_http_lua_module (phase handlers, FFI API)" : d);
      for (const d of p.dsos) objects.set(short(d.dso), { elb: (d.pct / 100) * fullUs, nginx: 0 });
      for (const d of p.nginx?.dsos ?? []) {
        const k = short(d.dso);
        const o = objects.get(k) ?? { elb: 0, nginx: 0 };
        o.nginx = (d.pct / 100) * nginxUs;
        objects.set(k, o);
      }
      const rows = [...objects].filter(([, o]) => o.elb >= 0.1 || o.nginx >= 0.1).sort((a, b) => b[1].elb - b[1].nginx - (a[1].elb - a[1].nginx));
      L.push("", `**CPU profiles** (perf, cpu-clock at ${p.hz} Hz, ${p.seconds} s of the same load on the full ELB's worker and on plain nginx's). ` +
        `Each object's share of the samples times the CPU per request measured above gives µs per request by object; the difference says where ELB's extra time is spent. ` +
        `(In this VM the kernel's samples bunch up where interrupts are re-enabled, e.g. \`_raw_spin_unlock_irqrestore\`, so kernel symbols are approximate; the split by object is not affected.)`, "");
      L.push("| object | plain nginx µs/req | ELB µs/req | Δ µs/req |", "|---|---:|---:|---:|");
      for (const [k, o] of rows) L.push(`| ${k} | ${fmt(o.nginx, 2)} | ${fmt(o.elb, 2)} | ${signed(o.elb - o.nginx)} |`);
      const luaSide = p.symbols.filter((x) => /luajit|ngx_http_lua|JIT/.test(x.dso)).slice(0, 15);
      L.push("", "ELB's top symbols in LuaJIT and the Lua module (share of the worker's samples):", "");
      L.push("| share | µs/req | object | symbol |", "|---:|---:|---|---|");
      for (const x of luaSide) L.push(`| ${x.pct.toFixed(1)}% | ${fmt((x.pct / 100) * fullUs, 2)} | ${short(x.dso)} | \`${x.symbol}\` |`);
      const top = p.symbols.filter((x) => !/luajit|ngx_http_lua|JIT/.test(x.dso)).slice(0, 12);
      L.push("", "and elsewhere (nginx, libc, kernel):", "");
      L.push("| share | µs/req | object | symbol |", "|---:|---:|---|---|");
      for (const x of top) L.push(`| ${x.pct.toFixed(1)}% | ${fmt((x.pct / 100) * fullUs, 2)} | ${short(x.dso)} | \`${x.symbol}\` |`);
    } else if (p) {
      L.push("", `No perf profile: ${p.why}.`);
    }
    const j = res.jit;
    if (j && j.available) {
      L.push("", `**LuaJIT traces** of the full ELB under the same load (\`jit.v\` started in init_worker): ${j.compiled} traces compiled, ${j.aborted} trace attempts aborted` +
        (j.aborts.length ? " (aborted code runs in LuaJIT's interpreter, and FFI calls from the interpreter are slow):" : "."), "");
      if (j.aborts.length) {
        L.push("| aborts | reason (where the trace started) |", "|---:|---|");
        for (const a of j.aborts) L.push(`| ${a.n} | \`${a.what.replace(/\|/g, "\\|")}\` |`);
      }
    } else if (j) {
      L.push("", `No LuaJIT trace log: ${j.why}.`);
    }
    return L.join("\n");
  },
};
