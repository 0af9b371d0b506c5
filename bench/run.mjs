// `npm run bench`: ELB against plain nginx and HAProxy, side by side. Runs every section of
// bench/sections/ in order and writes docs/BENCHMARKS.md, docs/bench/results.json and
// docs/bench/ratios.svg. Never part of `npm test`.
//
//   node bench/run.mjs                   every section, docs written (run npm run build first)
//   node bench/run.mjs --quick           fewer, shorter runs (to try a change; not for docs)
//   node bench/run.mjs --only proxy,scale   these sections; their results replace the same
//                                        sections of docs/bench/results.json, the rest is kept
//   node bench/run.mjs --out DIR         write BENCHMARKS.md, results.json, ratios.svg to DIR
//   node bench/run.mjs --no-pin          do not pin processes to CPUs
//   node bench/run.mjs --render          no measurement: rewrite BENCHMARKS.md and ratios.svg
//                                        from results.json (after editing bench/ANALYSIS.md)
//   ELB_BENCH_KEEP=1                     keep the temp dirs (configs, logs) after the run
//
// A section is one module in SECTIONS below, an object:
//   id, title                            its key in results.json and its heading
//   run(ctx) -> data                     measures; returns JSON-able data; stops what it starts
//   markdown(data) -> string             its part of BENCHMARKS.md
//   targets(data) -> [{target, value, met}]   optional: rows of the targets table
//   chart(data) -> [{group, label, ratio}]    optional: bars of ratios.svg (ratio to plain nginx)
// ctx: {quick, cpus: {proxy, load}, connections, log, shared: {etcd(), backend(), statsd()}}
// (shared processes are started on first use and stopped at the end of the run).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { freemem, hostname, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { REPO_ROOT as ROOT, freePort, haveCommand, sleep, startEtcd, startStatsd, stopAll, stopOnSignals } from "../test/harness/index.mjs";
import { cpuModel, watchMachine } from "./lib/procstat.mjs";
import { readResults, writeDocs } from "./lib/report.mjs";
import { luaDir, startNginxBackend } from "./lib/servers.mjs";
import breakdown from "./sections/breakdown.mjs";
import changes from "./sections/changes.mjs";
import fleet from "./sections/fleet.mjs";
import https from "./sections/https.mjs";
import instructions from "./sections/instructions.mjs";
import proxy from "./sections/proxy.mjs";
import routing from "./sections/routing.mjs";
import scale from "./sections/scale.mjs";
import { propagation, propagationMarkdown } from "./sections/propagation.mjs";

const SECTIONS = [
  routing,
  proxy,
  breakdown,
  instructions,
  scale,
  changes,
  https,
  {
    id: "propagation",
    title: "Propagation latency (etcd write -> every worker routes by it)",
    run: (ctx) => propagation({ samples: ctx.quick ? 50 : 500, log: ctx.log }),
    markdown: propagationMarkdown,
    targets: (d) =>
      d.sizes.map((s) => ({ target: `propagation p99 ≤ 10 ms at ${s.domains.toLocaleString("en-US")} domains`, value: `${s.p99_ms.toFixed(1)} ms`, met: s.p99_ms <= 10 })),
  },
  fleet,
];

function arg(name) {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith("--") ? true : v;
}

const quick = Boolean(arg("--quick"));
const only = typeof arg("--only") === "string" ? arg("--only").split(",") : undefined;
const outDir = typeof arg("--out") === "string" ? arg("--out") : join(ROOT, "docs");
const pin = !arg("--no-pin");
const renderOnly = Boolean(arg("--render"));
const paths = {
  mdPath: join(outDir, "BENCHMARKS.md"),
  jsonPath: join(outDir, "bench/results.json"),
  svgPath: join(outDir, "bench/ratios.svg"),
};
if (only) {
  const unknown = only.filter((id) => !SECTIONS.some((s) => s.id === id));
  if (unknown.length) {
    console.error(`bench: unknown section(s) ${unknown.join(", ")}; known: ${SECTIONS.map((s) => s.id).join(", ")}`);
    process.exit(2);
  }
}

function log(msg) {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  console.log(`[${t}s] ${msg}`);
}

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return ((r.stdout ?? "") + (r.stderr ?? "")).trim();
}

function dpkgVersion(pkg) {
  return sh("dpkg-query", ["-W", "-f", "${Version}", pkg]) || "not installed";
}

function machineInfo() {
  const osRelease = readFileSync("/etc/os-release", "utf8").match(/^PRETTY_NAME="?([^"\n]+)"?/m)?.[1] ?? "unknown";
  return {
    nproc: Number(sh("nproc", [])),
    cpu_model: cpuModel(),
    mem_gib: Math.round(totalmem() / 1024 ** 3),
    kernel: sh("uname", ["-r"]),
    os: osRelease,
  };
}

function versions() {
  return {
    nginx: `${sh("nginx", ["-v"]).replace("nginx version: ", "")} (Debian ${dpkgVersion("nginx")})`,
    "lua module": `ngx_http_lua_module (Debian libnginx-mod-http-lua ${dpkgVersion("libnginx-mod-http-lua")})`,
    "lua-resty-core": dpkgVersion("lua-resty-core"),
    LuaJIT: `${sh("luajit", ["-v"]).split(" --")[0]} (Debian luajit2 ${dpkgVersion("luajit2")}, the one nginx links: libluajit2-5.1-2 ${dpkgVersion("libluajit2-5.1-2")})`,
    HAProxy: `${sh("haproxy", ["-v"]).split("\n")[0].split(" - ")[0]} (Debian ${dpkgVersion("haproxy")})`,
    wrk: `${sh("wrk", ["-v"]).split("\n")[0].split(" Copyright")[0]} (Debian ${dpkgVersion("wrk")})`,
    etcd: `${sh("etcd", ["--version"]).split("\n")[0]} (Debian ${dpkgVersion("etcd-server")})`,
    node: process.version,
  };
}

function setupText(ctx) {
  const pinText = ctx.cpus.proxy !== undefined
    ? `Every proxy under test (plain nginx, ELB, HAProxy) runs **one worker** (nginx \`worker_processes 1\`, HAProxy \`nbthread 1\`) pinned to CPU ${ctx.cpus.proxy}; ` +
      `wrk (1 thread) and the backend (nginx, 1 worker) are pinned to CPU ${ctx.cpus.load}; etcd and the Node orchestrator are not pinned (they are idle while wrk runs). ` +
      `Why: the machine has ${ctx.machine.nproc} cores. With one worker each and the proxy alone on its core, the proxy is the bottleneck and every proxy gets the same CPU, ` +
      `so throughput and CPU per request compare the proxies and not the scheduler. Unpinned, the proxy, wrk and the backend fight over both cores, ` +
      `throughput drops by a third and p99 shows scheduling stalls of tens of ms.`
    : "Processes are not pinned (--no-pin): every proxy runs one worker; wrk 1 thread; the backend 1 worker.";
  return [
    pinText,
    "",
    `- Backend: nginx answering every request with \`200\` and a 1 KB body (\`return 200\`), keepalive from every proxy (nginx/ELB: \`keepalive 320\`; HAProxy: \`http-reuse always\`).`,
    `- Plain nginx: \`proxy_pass\` to a static upstream with ELB's proxy settings (HTTP/1.1 to the backend, the same four \`proxy_set_header\`), access log off.`,
    `- ELB: \`nginx/launch.sh\` with \`ELB_WORKERS=1\`, \`ELB_ACCESS_LOG=off\`, \`ELB_LOG_LEVEL=warn\`, \`STATSD\` set to a UDP listener in the orchestrator, configured through the admin API; a private copy of build/lua.`,
    `- HAProxy 2.6: one thread, ACLs on the Host, the User-Agent regex (\`-i\`) and the path regex (PCRE2 with JIT), \`option forwardfor\`, X-Real-IP and X-Forwarded-Proto set.`,
    `- wrk: 1 thread, ${ctx.connections} connections, keepalive or \`Connection: close\`; latencies from wrk's histogram (µs).`,
    `- Every process is started on 127.0.0.1 with ports picked at run time, and stopped at the end, on errors and on Ctrl-C.`,
  ].join("\n");
}

async function waitQuiet(maxWaitS) {
  const t0 = Date.now();
  while (loadavg()[0] > 1 && (Date.now() - t0) / 1000 < maxWaitS) {
    log(`load average ${loadavg()[0].toFixed(2)} > 1: waiting for a quieter machine (at most ${Math.round(maxWaitS - (Date.now() - t0) / 1000)} s more)`);
    await sleep(10000);
  }
  return loadavg();
}

const started = Date.now();
stopOnSignals(log);

function analysisNotes() {
  try {
    return readFileSync(join(ROOT, "bench/ANALYSIS.md"), "utf8");
  } catch {
    return undefined;
  }
}

if (renderOnly) {
  const results = readResults(paths.jsonPath);
  if (!results) {
    console.error(`bench: no ${paths.jsonPath} to render`);
    process.exit(2);
  }
  writeDocs({ results, sections: SECTIONS, notes: analysisNotes(), ...paths });
  log(`rendered ${paths.mdPath} and ${paths.svgPath} from ${paths.jsonPath}`);
  process.exit(0);
}

let exitCode = 0;
try {
  for (const tool of ["wrk", "haproxy", "nginx", "etcd", "taskset"]) {
    if (!haveCommand(tool)) throw new Error(`${tool} not found: run bash scripts/install-deps.sh bench`);
  }
  luaDir(); // snapshot of build/lua, fails when it was not built
  const machine = machineInfo();
  const cpus = pin && machine.nproc >= 2 ? { proxy: 1, load: 0 } : { proxy: undefined, load: undefined };
  const lazy = (fn) => {
    let p;
    return () => (p ??= fn());
  };
  const ctx = {
    quick,
    machine,
    cpus,
    connections: 50,
    log,
    shared: {
      etcd: lazy(() => startEtcd()),
      backend: lazy(async () => startNginxBackend({ ports: [await freePort(), await freePort()], cpu: cpus.load })),
      // counts only (the sections read snapshot()); addr: the name the sections use for STATSD
      statsd: lazy(async () => {
        const s = await startStatsd({ keep: false });
        return Object.assign(s, { addr: s.endpoint });
      }),
    },
  };
  const loadBefore = await waitQuiet(quick ? 0 : 45);
  const previous = only ? readResults(paths.jsonPath) : undefined;
  const results = previous ?? { meta: {}, sections: {} };
  results.meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    hostname: hostname(),
    commit: sh("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]),
    dirty: sh("git", ["-C", ROOT, "status", "--porcelain", "--", "src-lua", "nginx", "scripts", "bench"]) !== "",
    command: process.env.npm_lifecycle_event === "bench" ? "npm run bench" : `node bench/run.mjs ${process.argv.slice(2).join(" ")}`.trim(),
    quick,
    machine,
    versions: versions(),
    load_before: loadBefore,
    free_mem_gib: Math.round(freemem() / 1024 ** 3),
    cpus,
    connections: ctx.connections,
    setup_text: setupText(ctx),
  };
  if (only) results.meta.partial = `sections ${only.join(", ")} measured on ${results.meta.date}; others kept from the previous run`;
  const todo = SECTIONS.filter((s) => !only || only.includes(s.id));
  for (const s of todo) {
    log(`== ${s.id}: ${s.title}`);
    const t0 = Date.now();
    const watch = watchMachine();
    const entry = { measured_at: new Date().toISOString().replace(/\.\d+Z$/, "Z") };
    try {
      entry.data = await s.run(ctx);
    } catch (e) {
      exitCode = 1;
      entry.error = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
      log(`section ${s.id} FAILED: ${entry.error}`);
    }
    entry.duration_s = Math.round((Date.now() - t0) / 1000);
    entry.machine = watch.stop();
    results.sections[s.id] = entry;
    log(`== ${s.id} done in ${entry.duration_s} s (other processes used ${entry.machine.other_cores} cores)`);
  }
  results.meta.total_s = Math.round((Date.now() - started) / 1000);
  writeDocs({ results, sections: SECTIONS, notes: analysisNotes(), ...paths });
  log(`wrote ${paths.mdPath}, ${paths.jsonPath}, ${paths.svgPath}`);
  for (const s of SECTIONS) {
    const r = results.sections[s.id];
    if (r?.data && s.targets) for (const t of s.targets(r.data)) log(`target ${t.met === true ? "met   " : t.met === false ? "MISSED" : "n/a   "} ${t.target}: ${t.value}`);
  }
} catch (e) {
  exitCode = 1;
  log(`bench failed: ${e instanceof Error ? e.stack : e}`);
} finally {
  await stopAll().catch((e) => log(`bench: stopping: ${e instanceof Error ? e.message : e}`));
  log(`bench: done in ${Math.round((Date.now() - started) / 1000)} s`);
}
process.exit(exitCode);
