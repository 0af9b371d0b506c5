// Propagation latency (issue: live configuration): from a write to etcd to the moment every
// worker of the node routes by it, with 1 domain and with 100,000 domains configured; the
// time to load 100,000 domains cold; and the memory per worker at each size.
//
// Each sample writes one domain's rule set straight to etcd (as `etcdctl put` does, through
// etcd's gateway, which answers with the revision), then reads /__erulb__/status until every
// worker applied that revision; each worker stamps the time it applied it (ngx.now(), ms),
// so the latency is that stamp minus the time of the write, not the polling delay.
import { performance } from "node:perf_hooks";
import { request, sleep, startEtcd, stop } from "../../test/harness/index.mjs";
import { memOf } from "../lib/procstat.mjs";
import { ruleSet, spreadDomain } from "../lib/rules.mjs";
import { bulkPut, startElb, waitLoaded } from "../lib/servers.mjs";

const b64 = (s) => Buffer.from(s).toString("base64");

function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function putRevision(etcd, key, value) {
  const r = await request({ port: etcd.port, path: "/v3/kv/put", method: "POST", body: { key: b64(key), value: b64(value) }, keepalive: true });
  if (r.status !== 200) throw new Error(`etcd put: ${r.status} ${r.body.slice(0, 200)}`);
  return Number(r.json.header.revision);
}

/**
 * Milliseconds from the write until the last worker applied it, and until etcd answered the
 * write (etcd's own commit, a part of the first that ELB does not control).
 */
async function sample(etcd, elb, key, value) {
  const t0 = performance.timeOrigin + performance.now();
  const rev = await putRevision(etcd, key, value);
  const put = performance.timeOrigin + performance.now() - t0;
  const deadline = Date.now() + 10000;
  for (;;) {
    const s = (await request({ port: elb.port, path: "/__erulb__/status", keepalive: true })).json;
    if (s.workers.every((w) => w.revision >= rev)) return { total: Math.max(...s.workers.map((w) => w.applied_at * 1000)) - t0, put };
    if (Date.now() > deadline) throw new Error(`revision ${rev} not applied by every worker within 10 s`);
    await sleep(2);
  }
}

/**
 * n domains, each with a rule set of its own (its own pair of upstreams out of 200), so that
 * nothing is shared between domains that would not be in a real fleet; the regexes are the
 * same everywhere, as they are for domains served by one kind of application.
 */
function* distinctDomains(elbName, n) {
  for (let i = 1; i <= n; i++) {
    yield [`/${elbName}/rules/${spreadDomain(i)}`, JSON.stringify(ruleSet({ hit: `up${i % 100}`, miss: `up${100 + (i % 100)}` }))];
  }
}

async function measureAt(etcd, elb, n, samples) {
  const key = `/${elb.elbName}/rules/${spreadDomain(1)}`;
  const values = [JSON.stringify(ruleSet({ hit: "up1" })), JSON.stringify(ruleSet({ hit: "up2" }))];
  for (let i = 0; i < 10; i++) await sample(etcd, elb, key, values[i % 2]); // warm-up
  const lat = [];
  const puts = [];
  for (let i = 0; i < samples; i++) {
    const { total, put } = await sample(etcd, elb, key, values[i % 2]);
    lat.push(total);
    puts.push(put);
    await sleep(5);
  }
  lat.sort((x, y) => x - y);
  puts.sort((x, y) => x - y);
  const mem = elb.workers().map((pid) => memOf(pid));
  return {
    domains: n,
    samples,
    p50_ms: percentile(lat, 50),
    p90_ms: percentile(lat, 90),
    p99_ms: percentile(lat, 99),
    max_ms: lat[lat.length - 1],
    etcd_put_p50_ms: percentile(puts, 50),
    etcd_put_p99_ms: percentile(puts, 99),
    worker_rss_kb: mem.map((m) => m?.rss),
    worker_pss_kb: mem.map((m) => m?.pss),
  };
}

export async function propagation({ sizes = [1, 100000], samples = 200, workers = 2, log = console.log } = {}) {
  const results = { workers, sizes: [] };
  for (const n of sizes) {
    const etcd = await startEtcd();
    const name = `P${n}`;
    const upstreams = Array.from({ length: 200 }, (_, i) => [`/${name}/upstreams/up${i}/127.0.0.1:${9000 + i}`, ""]);
    await bulkPut(etcd, upstreams);
    const writeSeconds = await bulkPut(etcd, distinctDomains(name, n));
    const elb = await startElb({ etcd: etcd.endpoint, elbName: name, workers });
    const loadSeconds = await waitLoaded(elb, n, 600000);
    const coldLoad = (Date.now() - elb.startedAt) / 1000;
    log(`propagation: ${n} domains written to etcd in ${writeSeconds.toFixed(1)} s, ELB start to every worker loaded: ${coldLoad.toFixed(2)} s`);
    const r = await measureAt(etcd, elb, n, samples);
    r.etcd_write_s = writeSeconds;
    r.cold_load_s = coldLoad;
    r.load_wait_s = loadSeconds;
    log(`propagation: ${n} domains: p50 ${r.p50_ms.toFixed(1)} ms, p99 ${r.p99_ms.toFixed(1)} ms, worker RSS ${r.worker_rss_kb.map((k) => Math.round(k / 1024)).join("/")} MiB`);
    results.sizes.push(r);
    await stop(elb.proc);
    await etcd.stop();
  }
  return results;
}

const fmtPut = (r) => (r.etcd_put_p50_ms === undefined ? "?" : `${r.etcd_put_p50_ms.toFixed(1)} / ${r.etcd_put_p99_ms.toFixed(1)}`);

/** The rows of docs/BENCHMARKS.md for these results. */
export function propagationMarkdown(res) {
  const lines = [
    `Write to etcd -> every worker (${res.workers}) applied it. Target: p99 ≤ 10 ms at 1 and 100,000 domains.`,
    "",
    "| domains | samples | p50 ms | p90 ms | p99 ms | max ms | etcd's answer to the put, p50 / p99 ms | cold load s | worker RSS MiB | worker PSS MiB |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const r of res.sizes) {
    const mib = (l) => l.map((k) => (k === undefined ? "?" : (k / 1024).toFixed(0))).join(" / ");
    lines.push(`| ${r.domains.toLocaleString("en-US")} | ${r.samples} | ${r.p50_ms.toFixed(1)} | ${r.p90_ms.toFixed(1)} | ${r.p99_ms.toFixed(1)} | ${r.max_ms.toFixed(1)} | ${fmtPut(r)} | ${r.cold_load_s.toFixed(2)} | ${mib(r.worker_rss_kb)} | ${mib(r.worker_pss_kb)} |`);
  }
  return lines.join("\n");
}
