// One measured wrk run against a proxy: throughput, latency, and the CPU time the proxy's
// worker processes spent per request (utime + stime from /proc/<pid>/stat).
import { cpuDelta, cpuOfAll, memOf, round } from "./procstat.mjs";
import { median, pairedRatio } from "./stats.mjs";
import { wrk } from "./wrk.mjs";

/** proxy: {port, workers()}; opts: wrk options (host, close, duration, ...). */
export async function measure(proxy, opts) {
  const pids = proxy.workers();
  if (pids.length === 0) throw new Error(`${proxy.name}: no worker process found`);
  const c0 = cpuOfAll(pids);
  const w = await wrk({ port: proxy.port, ...opts });
  const c = cpuDelta(c0, cpuOfAll(pids));
  return {
    rps: round(w.rps, 1),
    requests: w.requests,
    failed: w.failed,
    non2xx: w.non2xx,
    socket_errors: w.socket_errors,
    p50_ms: round(w.latency_ms.p50, 3),
    p90_ms: round(w.latency_ms.p90, 3),
    p99_ms: round(w.latency_ms.p99, 3),
    max_ms: round(w.latency_ms.max, 3),
    cpu_s: round(c.total, 2),
    cpu_user_s: round(c.user, 2),
    cpu_sys_s: round(c.system, 2),
    cpu_us_per_req: w.requests ? round((c.total / w.requests) * 1e6, 2) : undefined,
    user_us_per_req: w.requests ? round((c.user / w.requests) * 1e6, 2) : undefined,
    sys_us_per_req: w.requests ? round((c.system / w.requests) * 1e6, 2) : undefined,
    cpu_util: round(c.total / w.seconds, 3),
  };
}

/** RSS and PSS (KiB) of each worker. */
export function workerMemory(proxy) {
  return proxy.workers().map((pid) => {
    const m = memOf(pid) ?? {};
    return { pid, rss_kb: m.rss, pss_kb: m.pss };
  });
}

/** One line for the progress log. */
export function describe(id, m) {
  const f = (x, d) => (x === undefined || x === null || !Number.isFinite(x) ? "n/a" : x.toFixed(d));
  return `${id.padEnd(17)} ${String(Math.round(m.rps)).padStart(7)} req/s  p50 ${f(m.p50_ms, 2)} ms  p99 ${f(m.p99_ms, 2)} ms  ${f(m.cpu_us_per_req, 1)} µs CPU/req${m.failed ? `  FAILED ${m.failed}` : ""}${m.requests === 0 ? "  NO REQUEST ANSWERED" : ""}`;
}

const METRICS = ["rps", "p50_ms", "p99_ms", "cpu_us_per_req", "user_us_per_req", "sys_us_per_req", "cpu_util"];

/**
 * Runs `rounds` rounds; in each, every target once, in order (a, b, c, a, b, c, ...).
 * targets: [{id, proxy, opts}]. Returns {id: {runs: [...], median: {...}}}.
 */
export async function interleave(targets, { rounds, log, label = "" }) {
  const out = {};
  for (const t of targets) out[t.id] = { runs: [] };
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) {
      const m = await measure(t.proxy, t.opts);
      out[t.id].runs.push(m);
      log?.(`  ${label}round ${r + 1}/${rounds} ${describe(t.id, m)}`);
    }
  }
  for (const t of targets) {
    const runs = out[t.id].runs;
    const med = {};
    for (const k of METRICS) med[k] = round(median(runs.map((x) => x[k])), 3);
    med.failed = runs.reduce((a, x) => a + x.failed, 0);
    med.requests = runs.reduce((a, x) => a + x.requests, 0);
    out[t.id].median = med;
  }
  return out;
}

/** Ratios of target `id` to `base`, paired by round (median of per-round ratios). */
export function ratiosTo(results, id, base) {
  const a = results[id].runs;
  const b = results[base].runs;
  const r = {};
  for (const k of ["rps", "p50_ms", "p99_ms", "cpu_us_per_req"]) r[k] = round(pairedRatio(a.map((x) => x[k]), b.map((x) => x[k])), 4);
  return r;
}
