// Throughput with the Host spread over N domains against 1 domain, for variants of one ELB side
// by side (interleaved rounds, one worker pinned as the bench pins it); the scale section's
// setup, cut down to what tells one change's effect at 100,000 domains.
//   node bench/spread.mjs [domains] [--rounds R] [--duration S] VARIANT...
// A VARIANT is name[:ENV=value,...][@luaDir], e.g. `base`, `nometrics:ELB_METRICS=off`,
// `patched@/tmp/lua-x`; `STATSD=on` sends statsd to a listener this script starts. Each variant runs at 1 domain and at N; prints req/s, CPU µs per request
// and the ratio of N to 1. `--perf FILE`: then `perf record` of each variant's worker at N
// domains during one more run, written to FILE.<variant> (read it with `perf report -i`).
import { spawn } from "node:child_process";
import { startEtcd, stopAll, stopOnSignals } from "../test/harness/index.mjs";
import { measure } from "./lib/measure.mjs";
import { SPREAD_FMT, domainEntries, upstreamEntries } from "./lib/rules.mjs";
import { bulkPut, startElb, startNginxBackend, waitLoaded } from "./lib/servers.mjs";
import { freePort, startStatsd } from "../test/harness/index.mjs";
import { median } from "./lib/stats.mjs";

const args = process.argv.slice(2);
const option = (name, def) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : def);
const positional = args.filter((a, i) => !a.startsWith("--") && !["--rounds", "--duration", "--perf"].includes(args[i - 1]));
const domains = Number(positional[0] ?? 100000);
const rounds = Number(option("rounds", 3));
const duration = Number(option("duration", 3));
const variants = (positional.slice(1).length ? positional.slice(1) : ["base"]).map((v) => {
  const [head, lua] = v.split("@");
  const [name, envText] = head.split(":");
  const env = Object.fromEntries((envText ? envText.split(",") : []).map((kv) => kv.split("=")));
  if (lua) env.ELB_LUA_DIR = lua;
  return { name, env };
});
const cpus = { proxy: 1, load: 0 };

stopOnSignals();
try {
  const etcd = await startEtcd();
  const statsd = await startStatsd({ keep: false });
  const backend = await startNginxBackend({ ports: [await freePort(), await freePort()], cpu: cpus.load });
  const targets = [];
  for (const n of [1, domains]) {
    const prefix = `SPREAD${n}`;
    await bulkPut(etcd, upstreamEntries(prefix, { up1: { [backend.addrs[0]]: "" }, up2: { [backend.addrs[0]]: "" } }));
    await bulkPut(etcd, domainEntries(prefix, n, 1));
    for (const v of variants) {
      const { STATSD, ...env } = v.env;
      const elb = await startElb({ etcd: etcd.endpoint, elbName: prefix, cpu: cpus.proxy, env, statsd: STATSD === "on" ? statsd.endpoint : undefined });
      await waitLoaded(elb, n, 300000);
      targets.push({ v: v.name, n, elb, runs: [] });
    }
  }
  const opts = (n) => ({ generator: "wrk-spread.lua", env: { WRK_DOMAINS: String(n), WRK_DOMAIN_FMT: SPREAD_FMT }, duration, connections: 50, cpu: cpus.load });
  for (const t of targets) await measure(t.elb, { ...opts(t.n), duration: 1 });
  for (let r = 0; r < rounds; r++) for (const t of targets) t.runs.push(await measure(t.elb, opts(t.n)));
  const perfFile = option("perf");
  if (perfFile) {
    for (const t of targets.filter((x) => x.n === domains)) {
      const rec = spawn("perf", ["record", "-F", "2000", "-g", "-o", `${perfFile}.${t.v}`, "-p", t.elb.workers().join(",")], { stdio: "ignore" });
      await new Promise((r) => setTimeout(r, 300));
      await measure(t.elb, opts(t.n));
      rec.kill("SIGINT");
      await new Promise((r) => rec.on("exit", r));
    }
  }
  const med = (t, k) => median(t.runs.map((x) => x[k]));
  for (const v of variants) {
    const one = targets.find((t) => t.v === v.name && t.n === 1);
    const big = targets.find((t) => t.v === v.name && t.n === domains);
    console.log(`${v.name}: 1 domain ${Math.round(med(one, "rps"))} req/s ${med(one, "cpu_us_per_req").toFixed(2)} µs; ${domains} ${Math.round(med(big, "rps"))} req/s ${med(big, "cpu_us_per_req").toFixed(2)} µs; ratio ${(med(big, "rps") / med(one, "rps") * 100).toFixed(1)}% (rounds ${big.runs.map((x) => Math.round(x.rps)).join("/")} vs ${one.runs.map((x) => Math.round(x.rps)).join("/")})`);
  }
} finally {
  await stopAll();
}
