// @ts-check
// A real Prometheus (Debian's `prometheus`) on 127.0.0.1, on a port picked at run time, with a
// throwaway data dir, scraping the given targets; and its HTTP API's instant queries.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "./http.mjs";
import { HOST, freePort } from "./ports.mjs";
import { start, stop, track, untrack } from "./procs.mjs";
import { tmpDir } from "./tmp.mjs";
import { WaitAbort, waitFor } from "./wait.mjs";

/**
 * @typedef {object} Prometheus
 * @property {number} port
 * @property {import("./procs.mjs").Proc} proc
 * @property {(promql: string) => Promise<any[]>} query the result vector of an instant query
 * @property {() => Promise<void>} stop
 */

/**
 * @param {{ targets: string[], scrapeIntervalS?: number, job?: string, metricsPath?: string }} opts
 * @returns {Promise<Prometheus>}
 */
export async function startPrometheus({ targets, scrapeIntervalS = 1, job = "elb", metricsPath = "/metrics" }) {
  const dir = tmpDir("prometheus");
  const port = await freePort();
  const config = [
    "global:",
    `  scrape_interval: ${scrapeIntervalS}s`,
    `  scrape_timeout: ${scrapeIntervalS}s`,
    "scrape_configs:",
    `  - job_name: ${job}`,
    `    metrics_path: ${metricsPath}`,
    "    static_configs:",
    `      - targets: [${targets.map((t) => `"${t}"`).join(", ")}]`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "prometheus.yml"), config);
  const proc = start("prometheus", "prometheus", [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=${HOST}:${port}`,
    "--log.level=warn",
  ], { stopSignal: "SIGTERM", graceMs: 10000 });
  await waitFor(async () => {
    if (!proc.alive()) throw new WaitAbort(`prometheus exited:\n${proc.output()}`);
    const r = await request({ port, path: "/-/ready" }).catch(() => undefined);
    return r?.status === 200;
  }, 30000, "prometheus to be ready");
  /** @type {Prometheus} */
  const handle = {
    port,
    proc,
    async query(promql) {
      const r = await request({ port, path: `/api/v1/query?query=${encodeURIComponent(promql)}` });
      if (r.status !== 200 || r.json?.status !== "success") throw new Error(`prometheus query ${promql}: ${r.status} ${r.body}`);
      return r.json.data.result;
    },
    async stop() {
      untrack(handle);
      await stop(proc);
    },
  };
  return track(handle);
}
