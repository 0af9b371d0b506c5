// Section 1: proxy throughput, latency and CPU per request, with keepalive and with
// `Connection: close`: (a) plain nginx proxy_pass to a static upstream with keepalive (the
// limit), (b) ELB with one domain whose rule graph is ua -> path regex -> backend, statsd
// on, (c) HAProxy 2.6 with the equivalent ACLs. Runs interleaved a, b, c, a, b, c, ...
import { request } from "../../test/harness/index.mjs";
import { interleave, measure, ratiosTo, workerMemory } from "../lib/measure.mjs";
import { DOMAIN, PATH_PATTERN, UA_PATTERN, ruleSet } from "../lib/rules.mjs";
import { BODY_BYTES, startElb, startHaproxy, startPlainNginx } from "../lib/servers.mjs";
import { fmt, int, pct, ratio } from "../lib/stats.mjs";
import { PATH, UA } from "../lib/wrk.mjs";

export const PROXIES = [
  { id: "nginx", label: "plain nginx" },
  { id: "elb", label: "ELB" },
  { id: "haproxy", label: "HAProxy" },
];
export const MODES = [
  { id: "keepalive", label: "keepalive", close: false },
  { id: "close", label: "Connection: close", close: true },
];

/** Starts the three proxies in front of `backend` (ELB configured through its API). */
export async function startProxies(ctx, { statsd = true } = {}) {
  const backend = await ctx.shared.backend();
  const server = backend.addrs[0];
  const nginx = await startPlainNginx({ servers: [server], cpu: ctx.cpus.proxy });
  const elb = await startElb({
    etcd: (await ctx.shared.etcd()).endpoint,
    elbName: "BENCH",
    statsd: statsd ? (await ctx.shared.statsd()).addr : undefined,
    cpu: ctx.cpus.proxy,
    waitLoaded: true,
  });
  await configureElb(elb, server);
  const haproxy = await startHaproxy({ server, host: DOMAIN, uaPattern: UA_PATTERN, pathPattern: PATH_PATTERN, cpu: ctx.cpus.proxy });
  const all = { nginx, elb, haproxy };
  for (const [id, p] of Object.entries(all)) await checkAnswer(id, p);
  return all;
}

export async function configureElb(elb, server) {
  let r = await elb.api("PUT", "upstream", { up1: { [server]: "" }, up2: { [server]: "" } });
  if (r.status !== 200) throw new Error(`ELB upstream PUT: ${r.status} ${r.body}`);
  r = await elb.api("PUT", "domain", { [DOMAIN]: ruleSet() });
  if (r.status !== 200) throw new Error(`ELB domain PUT: ${r.status} ${r.body}`);
}

/** The request wrk sends must get 200 and the backend's 1 KB body, not an error page. */
export async function checkAnswer(id, p, host = DOMAIN) {
  const r = await request({ port: p.port, path: PATH, headers: { Host: host, "User-Agent": UA } });
  if (r.status !== 200 || r.body.length !== BODY_BYTES) throw new Error(`${id}: the benchmark request got ${r.status} with ${r.body.length} bytes: ${r.body.slice(0, 200)}`);
}

export default {
  id: "proxy",
  title: "Proxy throughput, latency and CPU per request",
  async run(ctx) {
    const rounds = ctx.quick ? 2 : 5;
    const duration = ctx.quick ? 2 : 3;
    const proxies = await startProxies(ctx);
    const statsd = await ctx.shared.statsd();
    const s0 = statsd.snapshot();
    const t0 = Date.now();
    try {
      const res = { rounds, duration_s: duration, connections: ctx.connections, modes: {} };
      for (const mode of MODES) {
        const opts = { host: DOMAIN, close: mode.close, duration, connections: ctx.connections, cpu: ctx.cpus.load };
        // warm-up: JIT, keepalive pools, page cache
        for (const p of PROXIES) await measure(proxies[p.id], { ...opts, duration: 1 });
        const targets = PROXIES.map((p) => ({ id: p.id, proxy: proxies[p.id], opts }));
        const r = await interleave(targets, { rounds, log: ctx.log, label: `${mode.id} ` });
        const ratios = {};
        for (const p of PROXIES) ratios[p.id] = ratiosTo(r, p.id, "nginx");
        res.modes[mode.id] = { results: r, ratios_to_nginx: ratios };
      }
      const s1 = statsd.snapshot();
      const secs = (Date.now() - t0) / 1000;
      res.statsd = { datagrams: s1.datagrams - s0.datagrams, lines: s1.lines - s0.lines, datagrams_per_s: Math.round((s1.datagrams - s0.datagrams) / secs) };
      res.memory = {};
      for (const p of PROXIES) res.memory[p.id] = workerMemory(proxies[p.id]);
      return res;
    } finally {
      for (const p of Object.values(proxies)) await p.stop();
    }
  },

  targets(res) {
    const ka = res.modes.keepalive.ratios_to_nginx.elb;
    const cl = res.modes.close.ratios_to_nginx.elb;
    const ahead = (m) => res.modes[m].results.elb.median.rps > res.modes[m].results.haproxy.median.rps && res.modes[m].results.elb.median.cpu_us_per_req < res.modes[m].results.haproxy.median.cpu_us_per_req;
    return [
      { target: "ELB throughput ≥ 95% of plain nginx (keepalive)", value: pct(ka.rps), met: ka.rps >= 0.95 },
      { target: "ELB throughput ≥ 98% of plain nginx (Connection: close)", value: pct(cl.rps), met: cl.rps >= 0.98 },
      { target: "ELB CPU per request ≤ 1.10× plain nginx (keepalive)", value: ratio(ka.cpu_us_per_req), met: ka.cpu_us_per_req <= 1.1 },
      { target: "ELB CPU per request ≤ 1.10× plain nginx (Connection: close)", value: ratio(cl.cpu_us_per_req), met: cl.cpu_us_per_req <= 1.1 },
      {
        target: "ELB ahead of HAProxy (more req/s and less CPU per request)",
        value: MODES.map((m) => `${m.id}: ${int(res.modes[m.id].results.elb.median.rps)} vs ${int(res.modes[m.id].results.haproxy.median.rps)} req/s, ${fmt(res.modes[m.id].results.elb.median.cpu_us_per_req)} vs ${fmt(res.modes[m.id].results.haproxy.median.cpu_us_per_req)} µs`).join("; "),
        met: ahead("keepalive") && ahead("close"),
      },
    ];
  },

  chart(res) {
    const bars = [];
    for (const m of MODES) {
      for (const p of PROXIES) {
        const r = res.modes[m.id].ratios_to_nginx[p.id];
        bars.push({ group: `${m.label}: throughput`, label: p.label, ratio: r.rps });
      }
      for (const p of PROXIES) {
        const r = res.modes[m.id].ratios_to_nginx[p.id];
        bars.push({ group: `${m.label}: CPU per request`, label: p.label, ratio: r.cpu_us_per_req });
      }
    }
    return bars;
  },

  chartTargets() {
    const t = {};
    for (const m of MODES) {
      t[`${m.label}: throughput`] = m.label.includes("close") ? { value: 0.98, label: "target ≥ 0.98" } : { value: 0.95, label: "target ≥ 0.95" };
      t[`${m.label}: CPU per request`] = { value: 1.1, label: "target ≤ 1.10" };
    }
    return t;
  },

  markdown(res) {
    const L = [];
    L.push(`${res.rounds} rounds of ${res.duration_s} s per proxy and mode, interleaved (nginx, ELB, HAProxy, nginx, ...), ` +
      `wrk with 1 thread and ${res.connections} connections, each request \`GET ${PATH}\` with \`Host: ${DOMAIN}\` and a User-Agent that the ua rule matches, ` +
      `so ELB walks all four rules (ua regex -> path regex -> backend). Medians over the rounds; ratios are the median of the per-round ratios to plain nginx ` +
      `(runs of one round ran back to back). CPU is the proxy worker's utime + stime from /proc/<pid>/stat over the run, divided by the requests wrk completed.`);
    for (const m of MODES) {
      const mm = res.modes[m.id];
      L.push("", `**${m.label}**`, "");
      L.push("| proxy | req/s | p50 ms | p99 ms | CPU µs/req (user + sys) | worker CPU use | failed | req/s vs nginx | p50 vs nginx | p99 vs nginx | CPU/req vs nginx |");
      L.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
      for (const p of PROXIES) {
        const x = mm.results[p.id].median;
        const r = mm.ratios_to_nginx[p.id];
        L.push(`| ${p.label} | ${int(x.rps)} | ${fmt(x.p50_ms, 2)} | ${fmt(x.p99_ms, 2)} | ${fmt(x.cpu_us_per_req, 1)} (${fmt(x.user_us_per_req, 1)} + ${fmt(x.sys_us_per_req, 1)}) | ${pct(x.cpu_util, 0)} | ${x.failed} | ${pct(r.rps)} | ${ratio(r.p50_ms)} | ${ratio(r.p99_ms)} | ${ratio(r.cpu_us_per_req)} |`);
      }
    }
    L.push("", "Worker memory after the runs (RSS / PSS):", "");
    L.push("| proxy | RSS MiB | PSS MiB |", "|---|---:|---:|");
    for (const p of PROXIES) {
      for (const w of res.memory[p.id]) L.push(`| ${p.label} | ${fmt(w.rss_kb / 1024)} | ${fmt(w.pss_kb / 1024)} |`);
    }
    L.push("", `ELB's statsd sent ${res.statsd.datagrams} datagrams (${res.statsd.lines} lines) during the section, about ${res.statsd.datagrams_per_s} per second.`);
    return L.join("\n");
  },
};
