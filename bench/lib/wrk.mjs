// Runs wrk against 127.0.0.1 and returns its numbers (from the JSON line that
// bench/lua/wrk-report.lua prints), with a hard time limit on the wrk process.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { start, stop, tmpDir } from "../../test/harness/index.mjs";

const luaDir = fileURLToPath(new URL("../lua/", import.meta.url));
let scriptDir;
const scripts = new Map();

function scriptFor(generator) {
  const key = generator ?? "";
  if (!scripts.has(key)) {
    scriptDir ??= tmpDir("wrk");
    let text = "";
    if (generator) text += readFileSync(join(luaDir, generator), "utf8") + "\n";
    text += readFileSync(join(luaDir, "wrk-report.lua"), "utf8");
    const file = join(scriptDir, `wrk-${scripts.size}.lua`);
    writeFileSync(file, text);
    scripts.set(key, file);
  }
  return scripts.get(key);
}

export const UA = "Mozilla/5.0 (X11; Linux x86_64) bench-client/1.0";
export const PATH = "/api/v1/items/42";

/**
 * opts: port, path, host (Host header), close (Connection: close), duration (s),
 * connections, threads, headers {}, generator (a bench/lua file defining request()),
 * env (for the generator), cpu (a CPU list for taskset), timeout (s, per request),
 * https (the URL is https://localhost:port: TLS with SNI "localhost").
 */
export async function wrk(opts) {
  const duration = opts.duration ?? 5;
  const args = [
    `-t${opts.threads ?? 1}`,
    `-c${opts.connections ?? 50}`,
    `-d${duration}s`,
    `--timeout`, `${opts.timeout ?? 5}s`,
    "-s", scriptFor(opts.generator),
    "-H", `User-Agent: ${opts.ua ?? UA}`,
  ];
  if (opts.host) args.push("-H", `Host: ${opts.host}`);
  if (opts.close) args.push("-H", "Connection: close");
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push("-H", `${k}: ${v}`);
  args.push(opts.https ? `https://localhost:${opts.port}${opts.path ?? PATH}` : `http://127.0.0.1:${opts.port}${opts.path ?? PATH}`);
  const p = start("wrk", "wrk", args, { env: { ...process.env, ...(opts.env ?? {}) }, cpu: opts.cpu, stopSignal: "SIGKILL" });
  const limit = setTimeout(() => stop(p, "SIGKILL", 1000), (duration + 20) * 1000);
  const { code } = await p.exited;
  clearTimeout(limit);
  await stop(p);
  const out = p.output();
  const line = out.split("\n").find((l) => l.startsWith("WRKJSON "));
  if (code !== 0 || !line) throw new Error(`wrk exited ${code}:\n${out.slice(-2000)}`);
  const r = JSON.parse(line.slice(8));
  const nonOk = Number((out.match(/Non-2xx or 3xx responses: (\d+)/) || [])[1] ?? 0);
  const errors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout + nonOk;
  return {
    requests: r.requests,
    seconds: r.duration_us / 1e6,
    rps: r.requests / (r.duration_us / 1e6),
    non2xx: nonOk,
    socket_errors: r.errors,
    failed: errors,
    latency_ms: {
      mean: r.latency_us.mean / 1000,
      p50: r.latency_us.p50 / 1000,
      p90: r.latency_us.p90 / 1000,
      p99: r.latency_us.p99 / 1000,
      p999: r.latency_us.p999 / 1000,
      max: r.latency_us.max / 1000,
    },
  };
}
