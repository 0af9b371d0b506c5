// Instructions per request: the same ladder of configurations as "Where ELB's time goes",
// each run under callgrind (valgrind), which counts the user-space instructions the worker
// executes. Counts do not depend on what else the machine is doing, so small differences
// (one ngx.var read, one shared-dict call) show, where CPU time cannot resolve them.
//
// Per rung: warm-up requests (LuaJIT compiles its traces), then the worker's counters are
// zeroed, it idles for a while (its timers still run: the count per second of idling is
// subtracted), then `requests` requests on one keepalive connection, one at a time. nginx
// runs with `master_process off` (one process that is the worker), because callgrind_control
// reaches only the process valgrind started, not its forked children.
import http from "node:http";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, run, sleep, tmpDir } from "../../test/harness/index.mjs";
import { DOMAIN } from "../lib/rules.mjs";
import { plainNginxConf, startElb, startElbConf, startNginx } from "../lib/servers.mjs";
import { fmt, int, ratio, signed } from "../lib/stats.mjs";
import { PATH, UA } from "../lib/wrk.mjs";
import { copyConfig, ladder, renderedConf } from "./breakdown.mjs";
import { checkAnswer, configureElb } from "./proxy.mjs";

const PROCESSES = 2;
const RUNGS = ["elb-conf", "lua-balancer", "empty-access", "elb-access", "elb-balancer", "elb-log", "elb-statsd", "elb-prometheus"];

function callgrind(dir) {
  return ["valgrind", "--tool=callgrind", "--smc-check=all-non-file", `--callgrind-out-file=${dir}/cg.%p`, "--dump-instr=no", "--compress-strings=no"];
}

/** Sends n requests one after another on one keepalive connection. */
async function sequential(port, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < n; i++) {
      await new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, path: PATH, agent, headers: { Host: DOMAIN, "User-Agent": UA } }, (res) => {
          res.resume();
          res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        });
        req.on("error", reject);
        req.setTimeout(30000, () => req.destroy(new Error("timeout")));
        req.end();
      });
    }
  } finally {
    agent.destroy();
  }
}

/** Total instructions (Ir) of the newest dump of `pid` in dir. */
function lastDumpIr(dir, pid) {
  const files = readdirSync(dir).filter((f) => f.startsWith(`cg.${pid}.`)).sort((a, b) => Number(a.split(".").pop()) - Number(b.split(".").pop()));
  if (!files.length) throw new Error(`no callgrind dump of ${pid} in ${dir}`);
  const text = readFileSync(join(dir, files[files.length - 1]), "utf8");
  const m = text.match(/^(?:summary|totals): (\d+)/m);
  if (!m) throw new Error(`no totals in ${files[files.length - 1]}`);
  return Number(m[1]);
}

async function control(args) {
  const r = await run("callgrind_control", args, { timeoutMs: 60000 });
  if (r.code !== 0) throw new Error(`callgrind_control ${args.join(" ")}: ${r.stderr || r.stdout}`);
}

/** Instructions per request of one proxy running under callgrind. */
async function count(proxy, dir, { warmup, requests, idleMs }) {
  await sequential(proxy.port, warmup);
  const pid = proxy.proc.pid;
  await control(["--zero", String(pid)]);
  const t0 = Date.now();
  await sleep(idleMs);
  await control(["--dump", String(pid)]);
  const idlePerMs = lastDumpIr(dir, pid) / (Date.now() - t0);
  // two windows: when they disagree, something besides the requests (a trace still being
  // compiled, a GC cycle) ran in one of them; the lower is kept
  const windows = [];
  for (let w = 0; w < 2; w++) {
    await control(["--zero", String(pid)]);
    const t1 = Date.now();
    await sequential(proxy.port, requests);
    await control(["--dump", String(pid)]);
    const elapsed = Date.now() - t1;
    const total = lastDumpIr(dir, pid);
    const idle = idlePerMs * elapsed;
    windows.push({ per_request: (total - idle) / requests, idle_share: idle / total });
  }
  const best = windows[0].per_request <= windows[1].per_request ? windows[0] : windows[1];
  return { per_request: best.per_request, idle_share: best.idle_share, windows: windows.map((w) => Math.round(w.per_request)) };
}

export default {
  id: "instructions",
  title: "Instructions per request (callgrind)",
  async run(ctx) {
    const opts = { warmup: 1000, requests: ctx.quick ? 500 : 1000, idleMs: 2000 };
    const backend = await ctx.shared.backend();
    const server = backend.addrs[0];
    const etcd = await ctx.shared.etcd();
    const statsd = await ctx.shared.statsd();
    const elbName = "INSTR";
    const renderer = await startElb({ etcd: etcd.endpoint, elbName, waitLoaded: true });
    await configureElb(renderer, server);
    const conf = renderedConf(renderer.dir);
    await renderer.stop();
    // ELB_INSTR_RUNGS=elb-access,elb-statsd: only these (to try a change; not for docs)
    const pick = process.env.ELB_INSTR_RUNGS?.split(",") ?? RUNGS;
    const rungs = ladder(conf, server).filter((r) => pick.includes(r.id));
    const rows = [];
    // Each rung runs in PROCESSES processes at once and the lowest count is kept: now and then
    // a process settles into costlier LuaJIT traces (which traces form depends on how timers
    // and requests interleave during the warm-up), several thousand instructions more.
    const measureOne = async (id, label, startIt) => {
      const one = async (n) => {
        const dir = tmpDir(`cg-${id}-${n}`);
        const proxy = await startIt(callgrind(dir), n);
        try {
          await checkAnswer(id, proxy);
          return await count(proxy, dir, opts);
        } finally {
          await proxy.stop();
        }
      };
      const runs = await Promise.all(Array.from({ length: PROCESSES }, (_, n) => one(n)));
      const best = runs.reduce((a, b) => (b.per_request < a.per_request ? b : a));
      rows.push({ id, label, per_request: best.per_request, idle_share: best.idle_share, processes: runs.map((r) => r.windows) });
      ctx.log(`instructions: ${id}: ${runs.map((r) => r.windows.join("/")).join(", ")} per request`);
    };
    const single = (conf) => conf.replace(/^worker_processes \S+;/m, "master_process off;");
    await measureOne("nginx", "plain nginx (proxy_pass, static upstream)", async (wrap) => {
      const dir = tmpDir("nginx");
      const port = await freePort();
      return startNginx("nginx", single(plainNginxConf({ dir, port, servers: [server] })), { port, dir, wrap });
    });
    for (const r of rungs) {
      await measureOne(r.id, r.label, async (wrap, n) => {
        // every process is its own node under its own prefix: nodes sharing one would be a fleet
        const name = `${elbName}${rows.length + 1}P${n}`;
        await copyConfig(etcd, elbName, name);
        const env = { ETCD: etcd.endpoint, ELBNAME: name };
        if (r.statsd) env.STATSD = statsd.addr;
        env.ELB_METRICS = r.prometheus ? "on" : "off";
        const port = await freePort();
        return startElbConf({ name: `${r.id}-${n}`, conf: single(r.conf(port)), port, env, expectDomains: 1, wrap, timeoutMs: 120000 });
      });
    }
    const base = rows[0].per_request;
    for (let i = 0; i < rows.length; i++) {
      rows[i].ratio_to_nginx = rows[i].per_request / base;
      rows[i].delta = i === 0 ? undefined : rows[i].per_request - rows[i - 1].per_request;
    }
    return { ...opts, processes: PROCESSES, rows };
  },

  targets(res) {
    const full = res.rows[res.rows.length - 1];
    return [{ target: "user-space instructions per request ≤ 1.30× plain nginx (callgrind, the full ELB)", value: `${full.ratio_to_nginx.toFixed(2)}× (${Math.round(full.per_request).toLocaleString("en-US")} vs ${Math.round(res.rows[0].per_request).toLocaleString("en-US")})`, met: full.ratio_to_nginx <= 1.3 }];
  },

  markdown(res) {
    const L = [];
    const base = res.rows[0].per_request;
    const full = res.rows[res.rows.length - 1];
    L.push(`User-space instructions the nginx worker executes per request, counted by callgrind (valgrind), for the same ladder of configurations as the next section. ` +
      `${res.requests} requests one at a time on one keepalive connection after ${res.warmup} warm-up requests, twice; what the worker's timers execute meanwhile ` +
      `(measured over ${res.idleMs / 1000} s of idling) is subtracted. Each rung runs in ${res.processes ?? 2} processes and the lowest count is kept ` +
      `(a process now and then settles into costlier LuaJIT traces, a few thousand instructions more; both are in results.json). ` +
      `Counts hardly change from run to run whatever else the machine does, ` +
      `so they resolve differences CPU time cannot; they leave out the kernel (about half of plain nginx's CPU time) and cache misses.`, "");
    L.push("| rung | instructions / request | Δ | vs plain nginx | share of ELB's extra |", "|---|---:|---:|---:|---:|");
    const extra = full.per_request - base;
    for (const r of res.rows) {
      const share = r.delta !== undefined && extra > 0 ? `${Math.round((r.delta / extra) * 100)}%` : "";
      L.push(`| ${r.label} | ${int(r.per_request)} | ${r.delta === undefined ? "" : signed(Math.round(r.delta), 0)} | ${ratio(r.ratio_to_nginx)} | ${share} |`);
    }
    L.push("", `The full ELB executes ${int(extra)} more user-space instructions per request than plain nginx (${ratio(full.per_request / base)}).`);
    return L.join("\n");
  },
};
