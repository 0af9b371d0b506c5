// Section: the routing cost inside LuaJIT. A throwaway nginx (one process, master_process
// off, the ELB's shared dicts and pcre_jit) runs bench/lua/routing.lua from a timer: decisions
// per second of phases.access for the 4-rule graph, for a 10-rule graph of the new rule types,
// the two regexes alone, and the domain lookup with 1 and with 100,000 domains in the worker's
// view, exact and wildcard.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT as ROOT, start, stop, tmpDir } from "../../test/harness/index.mjs";
import { DOMAIN, PATH_PATTERN, SPREAD_FMT, UA_PATTERN, V2_DOMAIN, ruleSet, ruleSetV2 } from "../lib/rules.mjs";
import { luaDir } from "../lib/servers.mjs";
import { fmt, int } from "../lib/stats.mjs";
import { PATH, UA } from "../lib/wrk.mjs";

const benchLua = fileURLToPath(new URL("../lua/", import.meta.url));
const MODULES = "/usr/lib/nginx/modules";

function luaString(s) {
  return JSON.stringify(s); // a JSON string is a valid Lua string for these inputs
}

function luaTable(obj) {
  return "{ " + Object.entries(obj).map(([k, v]) => `${k} = ${typeof v === "string" ? luaString(v) : v}`).join(", ") + " }";
}

export default {
  id: "routing",
  title: "Routing cost inside LuaJIT",
  async run(ctx) {
    const dir = tmpDir("routing");
    const out = join(dir, "routing.json");
    const domains = 100000;
    const opts = {
      out,
      domain: DOMAIN,
      ruleset: JSON.stringify(ruleSet()),
      v2_domain: V2_DOMAIN,
      v2_ruleset: JSON.stringify(ruleSetV2()),
      ua: UA,
      path: PATH,
      ua_pattern: UA_PATTERN,
      path_pattern: PATH_PATTERN,
      domain_fmt: SPREAD_FMT,
      domains,
      reps: ctx.quick ? 3 : 5,
      iterations: ctx.quick ? 200000 : 1000000,
    };
    if (process.env.ELB_BENCH_JITV) opts.jitv = process.env.ELB_BENCH_JITV;
    // the shared dicts the engine declares, as nginx/nginx.conf.tmpl has them
    const tmpl = readFileSync(join(ROOT, "nginx/nginx.conf.tmpl"), "utf8");
    const dicts = [...tmpl.matchAll(/^\s*(lua_shared_dict \S+ \S+;)/gm)].map((m) => m[1]);
    const lua = luaDir();
    const conf = `daemon off;
master_process off;
worker_processes 1;
pcre_jit on;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
env ELBNAME=BENCH;
env ETCD=127.0.0.1:9;
load_module ${MODULES}/ndk_http_module.so;
load_module ${MODULES}/ngx_http_lua_module.so;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp;
    proxy_temp_path ${dir}/tmp;
    fastcgi_temp_path ${dir}/tmp;
    uwsgi_temp_path ${dir}/tmp;
    scgi_temp_path ${dir}/tmp;
    lua_package_path "${lua}/?.lua;${lua}/?/init.lua;${benchLua}?.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;;";
    ${dicts.join("\n    ")}
    lua_regex_cache_max_entries 65536;
    init_worker_by_lua_block {
        ngx.timer.at(0, function()
            local ok, err = pcall(function() require("routing").run(${luaTable(opts)}) end)
            if not ok then
                local f = io.open(${luaString(out + ".err")}, "w")
                f:write(tostring(err))
                f:close()
            end
            os.exit(0)
        end)
    }
}
`;
    writeFileSync(join(dir, "nginx.conf"), conf);
    const cmd = ctx.cpus.proxy !== undefined ? ["taskset", ["-c", String(ctx.cpus.proxy), "nginx", "-p", dir + "/", "-c", join(dir, "nginx.conf")]] : ["nginx", ["-p", dir + "/", "-c", join(dir, "nginx.conf")]];
    const p = start("routing-nginx", cmd[0], cmd[1]);
    const limit = setTimeout(() => stop(p, "SIGKILL", 1000), 240000);
    await p.exited;
    clearTimeout(limit);
    await stop(p);
    let text;
    try {
      text = readFileSync(out, "utf8");
    } catch {
      let why = "";
      try {
        why = readFileSync(out + ".err", "utf8");
      } catch {
        try {
          why = readFileSync(join(dir, "error.log"), "utf8").slice(-2000);
        } catch {
          why = p.output().slice(-2000);
        }
      }
      throw new Error(`routing harness failed: ${why}`);
    }
    const r = JSON.parse(text);
    const res = {
      iterations: r.iterations,
      reps: r.reps,
      domains: r.domains,
      decision_ns: r.decision_ns,
      decisions_per_s: 1e9 / r.decision_ns,
      regexes_ns: r.regexes_ns,
      lookup_1_ns: r.lookup_1_ns,
      lookup_100k_ns: r.lookup_n_ns,
      decision_100k_ns: r.decision_n_ns,
      decisions_100k_per_s: 1e9 / r.decision_n_ns,
      decision_v2_ns: r.decision_v2_ns,
      wildcard_1_ns: r.wildcard_1_ns,
      wildcard_100k_ns: r.wildcard_n_ns,
      wildcard_miss_100k_ns: r.wildcard_miss_n_ns,
      wildcard_decision_100k_ns: r.wildcard_decision_n_ns,
      apply_100k_s: r.apply_s,
      apply_per_s: r.domains / r.apply_s,
      view_kb_per_domain: r.view_kb_per_domain,
    };
    ctx.log(`  10-rule decision ${fmt(res.decision_v2_ns, 0)} ns, wildcard lookup at 1: ${fmt(res.wildcard_1_ns, 1)} ns, at 100k: ${fmt(res.wildcard_100k_ns, 1)} ns (all probes missing: ${fmt(res.wildcard_miss_100k_ns, 1)} ns), wildcard decision ${fmt(res.wildcard_decision_100k_ns, 0)} ns`);
    ctx.log(`  decision ${fmt(res.decision_ns, 0)} ns (${int(res.decisions_per_s)}/s), regexes ${fmt(res.regexes_ns, 0)} ns, lookup 1: ${fmt(res.lookup_1_ns, 1)} ns, 100k: ${fmt(res.lookup_100k_ns, 1)} ns, decision at 100k ${fmt(res.decision_100k_ns, 0)} ns, apply ${int(res.apply_per_s)} domains/s`);
    return res;
  },

  markdown(res) {
    const L = [];
    L.push(`Inside nginx (one process, \`pcre_jit on\`, the engine's compiled Lua), from a timer: \`phases.access.run()\` with \`ngx.var\` and \`ngx.ctx\` replaced by plain tables, so this is the routing logic alone ` +
      `(the cost of reading nginx variables through the FFI in a real request is in the breakdown below). CPU time per operation, median of ${res.reps} repetitions of ${int(res.iterations)} decisions ` +
      `(lookups: 10× as many), on one pinned core.`, "");
    L.push("| operation | ns per op | per second |", "|---|---:|---:|");
    L.push(`| one decision: Host lookup + ua regex + path regex + backend (4-rule graph), 1 domain | ${fmt(res.decision_ns, 0)} | ${int(res.decisions_per_s)} |`);
    L.push(`| the two regexes alone (\`ngx.re.find\`, options \`joi\` and \`jo\`) | ${fmt(res.regexes_ns, 0)} | ${int(1e9 / res.regexes_ns)} |`);
    L.push(`| domain lookup, 1 domain | ${fmt(res.lookup_1_ns, 1)} | ${int(1e9 / res.lookup_1_ns)} |`);
    L.push(`| domain lookup, ${int(res.domains)} domains, random Host among 2^20 precomputed | ${fmt(res.lookup_100k_ns, 1)} | ${int(1e9 / res.lookup_100k_ns)} |`);
    L.push(`| one decision, ${int(res.domains)} domains, random Host | ${fmt(res.decision_100k_ns, 0)} | ${int(res.decisions_100k_per_s)} |`);
    if (res.decision_v2_ns !== undefined) {
      L.push(`| one decision through a 10-rule graph of the new types (header, cookie regex, query, method, ip, scheme, limit, sticky split, backend), 1 domain | ${fmt(res.decision_v2_ns, 0)} | ${int(1e9 / res.decision_v2_ns)} |`);
      L.push(`| wildcard lookup, 1 wildcard domain, a Host one label below it (no exact name: the wildcard probes) | ${fmt(res.wildcard_1_ns, 1)} | ${int(1e9 / res.wildcard_1_ns)} |`);
      L.push(`| wildcard lookup, ${int(res.domains)} wildcard (and as many exact) domains, random Host one label below one | ${fmt(res.wildcard_100k_ns, 1)} | ${int(1e9 / res.wildcard_100k_ns)} |`);
      L.push(`| the same, Hosts no wildcard covers (every probe misses) | ${fmt(res.wildcard_miss_100k_ns, 1)} | ${int(1e9 / res.wildcard_miss_100k_ns)} |`);
      L.push(`| one decision (4-rule graph) for such a wildcard Host | ${fmt(res.wildcard_decision_100k_ns, 0)} | ${int(1e9 / res.wildcard_decision_100k_ns)} |`);
    }
    L.push("", `Applying ${int(res.domains)} rule sets to one worker's view (\`config.apply.applyKey\`, values already validated, as workers do) took ${fmt(res.apply_100k_s, 2)} s ` +
      `(${int(res.apply_per_s)} domains/s), and the view grew by ${fmt(res.view_kb_per_domain, 2)} KiB of Lua heap per domain.`);
    if (res.lookup_100k_ns > 2 * res.lookup_1_ns) {
      L.push("", `The lookup is one hash probe at any size; with ${int(res.domains)} domains and a random Host per decision, the host strings, the domains' tables and their rule nodes ` +
        `no longer fit in the CPU caches, so each decision pays cache misses: +${fmt(res.lookup_100k_ns - res.lookup_1_ns, 0)} ns for the lookup, +${fmt(res.decision_100k_ns - res.decision_ns, 0)} ns for the whole decision. ` +
        `The one-domain figures are the best case (everything in L1).`);
    }
    if (res.wildcard_100k_ns !== undefined) {
      L.push("", `A wildcard lookup misses the exact name first, then probes one suffix per label, longest first, skipping suffixes with more labels than any wildcard covers (\`www.d<i>.bench.test\` hits at its first probe, \`d<i>.bench.test\`; \`www.d<i>.elsewhere.test\` makes three that miss); ` +
        `each probe makes the suffix a Lua string (interned: a hash and a look into LuaJIT's string table) and looks it up. ` +
        `At ${int(res.domains)} wildcards and 2^20 random Hosts these are cache misses, ${fmt(res.wildcard_100k_ns / res.wildcard_1_ns, 0)}× the one-wildcard case, the same effect as for exact names; the number of probes does not depend on the number of domains.`);
    }
    return L.join("\n");
  },
};
