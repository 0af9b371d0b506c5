// Prometheus metrics: a real Prometheus (Debian's) scraping the ELB_METRICS_LISTEN port on
// loopback, whose HTTP API must show request counters equal to the requests sent and a
// duration histogram; promtool accepting the exposition; the cardinality cap (domains beyond
// ELB_METRICS_MAX_DOMAINS count as "other", wildcard hosts under their configured domain,
// unknown hosts as "unmatched"); per-server requests, failures, state and in-flight counts;
// the admin access rules on /__erulb__/metrics and the metrics port serving nothing else.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, HOST, freePort, request, run, sleep, startBackend, startElb, startEtcd, stopAll, tmpDir, waitFor } from "./harness";
import { startPrometheus, Prometheus } from "../harness/prometheus.mjs";

let etcd: Etcd;
let elb: Elb;
let prom: Prometheus;
let metricsPort: number;
let app: Backend;
let other: Backend;
const DEAD = `${HOST}:1`;

const backend = (servername: string) => ({ init: "b", rules: { b: { type: "backend", args: { servername } } } });

async function metricsText(): Promise<string> {
  const r = await request({ port: metricsPort, path: "/metrics" });
  expect(r.status).toBe(200);
  return r.body;
}

/** The value of one sample of the exposition (undefined when absent). */
function sampleOf(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const inner = /\{(.*)\}/.exec(line)?.[1] ?? "";
    const have = inner === "" ? [] : inner.split(/,(?=[a-z_]+=")/);
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(line.split(" ").pop());
  }
  return undefined;
}

beforeAll(async () => {
  etcd = await startEtcd();
  metricsPort = await freePort();
  elb = await startElb({ etcd: etcd.endpoint, elbName: "PROM", env: { ELB_METRICS_LISTEN: `${HOST}:${metricsPort}`, ELB_METRICS_MAX_DOMAINS: "4", ELB_NODE_ID: "prom-node" } });
  await elb.waitLoaded();
  app = await startBackend("app");
  other = await startBackend("other");
  expect((await elb.api("PUT", "upstream", { app: { [app.addr]: "" }, dead: { [DEAD]: "max_fails=0" }, mixed: { [other.addr]: "", [DEAD]: "max_fails=100 fail_timeout=30" } })).status).toBe(200);
  const domains: Record<string, unknown> = { "a.test": backend("app"), "b.test": backend("app"), "*.wild.test": backend("app"), "c.test": backend("app"), "d.test": backend("app"), "dead.test": backend("dead"), "mixed.test": backend("mixed") };
  expect((await elb.api("PUT", "domain", domains)).status).toBe(200);
  prom = await startPrometheus({ targets: [`${HOST}:${metricsPort}`], scrapeIntervalS: 1 });
});

afterAll(async () => {
  await stopAll();
});

describe("the exposition", () => {
  it("is accepted by promtool check metrics", async () => {
    for (let i = 0; i < 3; i++) await elb.request({ path: "/", headers: { Host: "a.test" } });
    await sleep(700);
    const text = await metricsText();
    const dir = tmpDir("promtool");
    writeFileSync(join(dir, "metrics.txt"), text);
    const r = await run("sh", ["-c", `promtool check metrics < ${join(dir, "metrics.txt")}`]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const family of ["elb_http_requests_total", "elb_http_request_duration_seconds", "elb_upstream_requests_total", "elb_upstream_failures_total", "elb_upstream_server_state", "elb_upstream_server_requests_in_flight", "elb_config_revision", "elb_config_changes_total", "elb_config_invalid_keys", "elb_config_full_reloads_total", "elb_etcd_connected", "elb_leader_worker_pid", "elb_leader_changes_total", "elb_config_lag_revisions", "elb_nginx_connections_accepted_total", "elb_nginx_connections", "elb_worker_resident_memory_bytes", "elb_worker_lua_memory_bytes"]) {
      expect(text, family).toContain(`# TYPE ${family} `);
    }
  });

  it("the metrics port serves GET /metrics and nothing else; /__erulb__/metrics follows the admin rules", async () => {
    expect((await request({ port: metricsPort, path: "/" })).status).toBe(404);
    expect((await request({ port: metricsPort, path: "/__erulb__/status" })).status).toBe(404);
    expect((await request({ port: metricsPort, path: "/metrics", method: "POST", body: "x" })).status).toBe(405);
    const viaAdmin = await elb.api("GET", "metrics");
    expect(viaAdmin.status).toBe(200);
    expect(viaAdmin.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(viaAdmin.body).toContain("# TYPE elb_http_requests_total counter");
    // a second ELB with a token: the metrics resource wants it like every other
    const guarded = await startElb({ etcd: etcd.endpoint, elbName: "PROMTOKEN", env: { ELB_ADMIN_TOKEN: "s3cret" } });
    expect((await guarded.request("/__erulb__/metrics")).status).toBe(403);
    expect((await guarded.api("GET", "metrics")).status).toBe(200);
    await guarded.stop();
  });
});

describe("Prometheus scraping ELB", () => {
  it("finds request counters equal to the requests sent, by domain and class, and a histogram", async () => {
    const sent = { "a.test": 7, "b.test": 4 };
    for (const [host, n] of Object.entries(sent)) for (let i = 0; i < n; i++) expect((await elb.request({ path: "/x", headers: { Host: host } })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await elb.request({ path: "/", headers: { Host: "dead.test" } })).status).toBe(502);
    // a.test counted 3 more in the first test
    const want = { "a.test": 10, "b.test": 4 };
    for (const [domain, n] of Object.entries(want)) {
      const got = await waitFor(async () => {
        const v = await prom.query(`elb_http_requests_total{domain="${domain}",code="2xx"}`);
        return v.length === 1 && Number(v[0].value[1]) === n ? v : undefined;
      }, 20000, `Prometheus to show ${n} requests of ${domain}`);
      expect(got[0].metric).toMatchObject({ job: "elb", instance: `${HOST}:${metricsPort}`, domain, code: "2xx" });
    }
    const errors = await waitFor(async () => {
      const v = await prom.query(`elb_http_requests_total{domain="dead.test",code="5xx"}`);
      return v.length === 1 && Number(v[0].value[1]) === 3 ? v : undefined;
    }, 20000, "the 502s of dead.test");
    expect(errors.length).toBe(1);
    const inf = await prom.query(`elb_http_request_duration_seconds_bucket{domain="b.test",le="+Inf"}`);
    expect(Number(inf[0].value[1])).toBe(4);
    const count = await prom.query(`elb_http_request_duration_seconds_count{domain="b.test"}`);
    expect(Number(count[0].value[1])).toBe(4);
    const buckets = await prom.query(`elb_http_request_duration_seconds_bucket{domain="b.test"}`);
    expect(buckets.length).toBe(12);
    // cumulative: never decreasing with le
    const byLe = buckets.map((b: any) => [b.metric.le === "+Inf" ? Infinity : Number(b.metric.le), Number(b.value[1])]).sort((x: number[], y: number[]) => x[0] - y[0]);
    for (let i = 1; i < byLe.length; i++) expect(byLe[i][1]).toBeGreaterThanOrEqual(byLe[i - 1][1]);
    // Prometheus reads it as a histogram: a quantile of local requests is within the first buckets
    const p99 = await prom.query(`histogram_quantile(0.99, sum by (le) (elb_http_request_duration_seconds_bucket{domain="b.test"}))`);
    expect(p99.length).toBe(1);
    expect(Number(p99[0].value[1])).toBeGreaterThan(0);
    expect(Number(p99[0].value[1])).toBeLessThanOrEqual(0.5);
    const up = await prom.query(`up{job="elb"}`);
    expect(Number(up[0].value[1])).toBe(1);
  });

  it("bounds the domain label: configured domains only, wildcards under their key, the rest as other", async () => {
    // a.test, b.test and dead.test hold three of the four labels; the wildcard takes the last
    for (let i = 0; i < 2; i++) expect((await elb.request({ path: "/", headers: { Host: `h${i}.wild.test` } })).status).toBe(200);
    await sleep(800);
    for (const host of ["c.test", "d.test", "c.test"]) expect((await elb.request({ path: "/", headers: { Host: host } })).status).toBe(200);
    for (const host of ["nope.test", "random-1.example", "random-2.example"]) expect((await elb.request({ path: "/", headers: { Host: host } })).status).toBe(404);
    await sleep(800);
    const text = await metricsText();
    expect(sampleOf(text, "elb_http_requests_total", { domain: "*.wild.test", code: "2xx" })).toBe(2);
    expect(text).not.toContain('domain="h0.wild.test"');
    expect(sampleOf(text, "elb_http_requests_total", { domain: "other", code: "2xx" })).toBe(3);
    expect(text).not.toContain('domain="c.test"');
    expect(sampleOf(text, "elb_http_requests_total", { domain: "unmatched", code: "4xx" })).toBe(3);
    expect(text).not.toContain("random-1");
  });

  it("counts per server: requests, passive failures, state, in flight", async () => {
    for (let i = 0; i < 6; i++) await elb.request({ path: "/", headers: { Host: "mixed.test" } });
    await sleep(800);
    const text = await metricsText();
    const served = sampleOf(text, "elb_upstream_requests_total", { upstream: "mixed", server: other.addr, code: "2xx" });
    expect(served).toBe(6);
    // round robin tried the dead server first for about half of them: each a failure, retried
    expect(sampleOf(text, "elb_upstream_failures_total", { upstream: "mixed", server: DEAD })).toBeGreaterThanOrEqual(1);
    expect(sampleOf(text, "elb_upstream_server_state", { upstream: "mixed", server: other.addr, state: "up" })).toBe(1);
    expect(sampleOf(text, "elb_upstream_server_requests_in_flight", { upstream: "app", server: app.addr })).toBe(0);
    expect(sampleOf(text, "elb_upstream_server_state", { upstream: "dead", server: DEAD, state: "up" })).toBe(1);
    // drained: the state follows
    expect((await elb.api("PUT", "upstream", { app: { [app.addr]: "drain" } })).status).toBe(200);
    expect(sampleOf(await metricsText(), "elb_upstream_server_state", { upstream: "app", server: app.addr, state: "drain" })).toBe(1);
    expect((await elb.api("PUT", "upstream", { app: { [app.addr]: "" } })).status).toBe(200);
    const inPrometheus = await waitFor(async () => {
      const v = await prom.query(`elb_upstream_requests_total{upstream="mixed",code="2xx"}`);
      return v.length === 1 && Number(v[0].value[1]) === 6 ? v : undefined;
    }, 20000, "Prometheus to show the server's requests");
    expect(inPrometheus[0].metric.server).toBe(other.addr);
  });

  it("shows the configuration's progress and the lead", async () => {
    const status = (await elb.api("GET", "status")).json;
    const text = await metricsText();
    expect(sampleOf(text, "elb_config_revision", {})).toBe(status.config_revision);
    expect(sampleOf(text, "elb_config_lag_revisions", {})).toBe(0);
    expect(sampleOf(text, "elb_etcd_connected", {})).toBe(1);
    expect(sampleOf(text, "elb_leader_worker_pid", {})).toBe(status.leader_pid);
    expect(sampleOf(text, "elb_config_full_reloads_total", {})).toBe(1);
    expect(sampleOf(text, "elb_config_domains", {})).toBe(7);
    const before = sampleOf(text, "elb_config_changes_total", {})!;
    // a value written by hand that fails validation is counted as invalid
    await run("etcdctl", [`--endpoints=${etcd.endpoint}`, "put", "/PROM/upstreams/app/10.0.0.9:80", "weight=zero"], { env: { ...process.env, ETCDCTL_API: "3" } });
    const after = await waitFor(async () => {
      const t = await metricsText();
      return sampleOf(t, "elb_config_invalid_keys", {}) === 1 ? t : undefined;
    }, 5000, "the invalid key to be counted");
    expect(sampleOf(after, "elb_config_changes_total", {})).toBe(before);
    // another change of a valid key: one more change, and the revision follows
    expect((await elb.api("PUT", "upstream", { app: { [app.addr]: "weight=3" } })).status).toBe(200);
    const later = await metricsText();
    expect(sampleOf(later, "elb_config_changes_total", {})).toBeGreaterThan(before);
    expect(sampleOf(later, "elb_config_revision", {})).toBeGreaterThan(status.config_revision);
    const pid = sampleOf(later, "elb_leader_worker_pid", {})!;
    expect(elb.workers()).toContain(pid);
    expect(sampleOf(later, "elb_leader_changes_total", {})).toBeGreaterThanOrEqual(1);
    expect(sampleOf(later, "elb_nginx_connections_accepted_total", {})).toBeGreaterThan(10);
    expect(sampleOf(later, "elb_worker_resident_memory_bytes", { worker: "0" })).toBeGreaterThan(1e6);
    expect(sampleOf(later, "elb_worker_lua_memory_bytes", { worker: "1" })).toBeGreaterThan(1e5);
  });
});

describe("with metrics off", () => {
  it("ELB_METRICS=off counts nothing, and a malformed setting stops the start", async () => {
    const off = await startElb({ etcd: etcd.endpoint, elbName: "PROM", env: { ELB_METRICS: "off" } });
    await off.waitLoaded();
    for (let i = 0; i < 3; i++) expect((await off.request({ path: "/", headers: { Host: "a.test" } })).status).toBe(200);
    await sleep(700);
    const text = (await off.api("GET", "metrics")).body;
    expect(text).not.toContain("elb_http_requests_total{");
    expect(text).toContain("elb_config_revision ");
    await off.stop();
    await expect(startElb({ etcd: etcd.endpoint, elbName: "PROM", env: { ELB_METRICS: "maybe" }, timeoutMs: 5000 })).rejects.toThrow(/ELB_METRICS must be on or off/);
  });
});
