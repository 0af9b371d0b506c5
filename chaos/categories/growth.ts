// Resource growth: 200,000 requests with random Host, User-Agent and path, then 100,000
// changes straight into etcd; each worker's memory (RSS) and the shared dicts' use before and
// after must stay bounded, and every worker must end with what etcd holds.
import http from "node:http";
import { startBackend, startElb, startEtcd, stopAll, sleep } from "../../test/harness/index.mjs";
import { putAll, readState } from "../lib/etcd-state";
import { connectEachWorker } from "../lib/per-worker";
import { Tally } from "../lib/tally";
import { LogWatch, rssKiB } from "../lib/watch";
import type { Options } from "../run";

const MiB = 1024;

function rand(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

async function requests(port: number, n: number, seed: number): Promise<{ statuses: Record<string, number>; seconds: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const r = rand(seed);
  const statuses: Record<string, number> = {};
  const started = Date.now();
  let next = 0;
  const one = () =>
    new Promise<void>((res) => {
      const known = r() < 0.3;
      const host = known ? `g${Math.floor(r() * 100)}.test` : `${Math.floor(r() * 1e9).toString(36)}.${r() < 0.5 ? "test" : "example"}`;
      const path = `/${Math.floor(r() * 1e12).toString(36)}/${"x".repeat(Math.floor(r() * 200))}?q=${Math.floor(r() * 1e6)}`;
      const ua = `chaos/${Math.floor(r() * 1e9).toString(36)} ${"u".repeat(Math.floor(r() * 300))}`;
      const req = http.request({ host: "127.0.0.1", port, path, agent, headers: { Host: host, "User-Agent": ua } }, (resp) => {
        resp.resume();
        resp.on("end", () => {
          statuses[resp.statusCode ?? 0] = (statuses[resp.statusCode ?? 0] ?? 0) + 1;
          res();
        });
      });
      req.on("error", () => {
        statuses.error = (statuses.error ?? 0) + 1;
        res();
      });
      req.end();
    });
  const worker = async () => {
    while (next < n) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  agent.destroy();
  return { statuses, seconds: (Date.now() - started) / 1000 };
}

export async function run(opts: Options): Promise<Tally> {
  const t = new Tally("growth", "Resource growth");
  const nRequests = opts.quick ? 20000 : 200000;
  const nChanges = opts.quick ? 10000 : 100000;
  const etcd = await startEtcd();
  const backend = await startBackend("grow");
  const elb = await startElb({ etcd: etcd.endpoint, workers: 2, env: { ...opts.env, ELB_ACCESS_LOG: "off" } });
  try {
    await elb.waitLoaded(15000);
    const log = LogWatch.of(elb);
    await elb.api("PUT", "upstream", { gup: { [backend.addr]: "" } });
    const base: [string, string][] = [];
    for (let i = 0; i < 100; i++) base.push([`/ELB/rules/g${i}.test`, JSON.stringify({ init: "u", rules: { u: { type: "ua", args: { pattern: "^chaos/(\\w+)", succ: "b", fail: "b" } }, b: { type: "backend", args: { servername: "gup" } } } })]);
    await putAll(etcd.endpoint, base);
    await elb.waitLoaded(15000, 100);
    await requests(elb.port, 2000, opts.seed); // warm up: code paths compiled, pools filled
    const measure = async () => {
      const s = (await elb.api("GET", "status")).json;
      const rss = elb.workers().map(rssKiB);
      const dict = s.shared_dicts?.elb_config;
      return { rssMiB: rss.map((k) => Math.round(k / MiB)), configDictUsedMiB: dict ? Math.round((dict.capacity - dict.free) / 1024 / 1024) : -1, domains: s.domains };
    };
    const before = await measure();
    const traffic = await requests(elb.port, nRequests, opts.seed + 1);
    const afterRequests = await measure();
    const r = rand(opts.seed + 2);
    const changes: [string, string][] = [];
    for (let i = 0; i < nChanges; i++) {
      // distinct names within each transaction of 100 (etcd refuses a key twice in one)
      const name = `c${(i % 100) + 100 * Math.floor(r() * 20)}.test`;
      changes.push([`/ELB/rules/${name}`, JSON.stringify({ init: "b", rules: { b: { type: "backend", args: { servername: "gup", "X-Change": String(i) } } } })]);
    }
    const t0 = Date.now();
    await putAll(etcd.endpoint, changes, 100);
    const state = await readState(etcd.endpoint, "ELB");
    const want = [...state.keys()].filter((k) => k.startsWith("/ELB/rules/")).length;
    await elb.waitLoaded(60000, want);
    const changesSeconds = (Date.now() - t0) / 1000;
    await sleep(2500); // the snapshot is rewritten once changes are quiet
    const afterChanges = await measure();
    const problems: { what: string; detail?: string; severity?: number }[] = [];
    const growth = (a: number[], b: number[]) => Math.max(...b.map((x, i) => x - (a[i] ?? 0)));
    if (growth(before.rssMiB, afterRequests.rssMiB) > 32) problems.push({ what: "worker memory grew by more than 32 MiB over the requests", detail: `${before.rssMiB} -> ${afterRequests.rssMiB} MiB`, severity: 7 });
    if (afterRequests.configDictUsedMiB - before.configDictUsedMiB > 4) problems.push({ what: "the config dict grew with random requests", detail: `${before.configDictUsedMiB} -> ${afterRequests.configDictUsedMiB} MiB`, severity: 7 });
    t.count(`${nRequests} requests with random Host, User-Agent and path`, problems);
    const p2: typeof problems = [];
    if (growth(afterRequests.rssMiB, afterChanges.rssMiB) > 128) p2.push({ what: "worker memory grew by more than 128 MiB over the changes", detail: `${afterRequests.rssMiB} -> ${afterChanges.rssMiB} MiB`, severity: 7 });
    if (afterChanges.configDictUsedMiB > 128) p2.push({ what: "the config dict holds more than 128 MiB after the changes", detail: `${afterChanges.configDictUsedMiB} MiB`, severity: 7 });
    const conns = await connectEachWorker(elb.port, 2);
    for (const c of conns) {
      const d = await c.get("/__erulb__/domain");
      const names = Object.keys(d ?? {}).length;
      if (names !== want) p2.push({ what: "a worker does not hold what etcd holds", detail: `worker ${c.pid}: ${names} domains, etcd ${want}`, severity: 9 });
      c.close();
    }
    for (const line of log.crashes()) p2.push({ what: "crash or Lua error in the error log", detail: line, severity: 9 });
    t.count(`${nChanges} changes to ${want - 100} domains, straight into etcd`, p2);
    t.figures = { before, afterRequests, afterChanges, requests: traffic, changesAppliedInSeconds: changesSeconds };
    t.notes.push("memory is each worker's RSS; the config dict's use is its capacity minus its free pages (events and tombstones expire after 10 minutes)");
  } finally {
    await stopAll();
  }
  return t;
}
