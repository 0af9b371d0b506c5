// Memory of one node at N domains, the way the scale section loads them (one rule set shared by
// every domain, or one each), for any number of workers; the figures of bench/ANALYSIS.md's
// memory breakdown come from it.
//   node bench/memory.mjs [domains] [workers] [--distinct] [--lua DIR]
// Prints the cold load time, then per worker its RSS and PSS (MiB) right after the load and
// 5 s later (the snapshot has been written by then), its Lua heap (collectgarbage("count"),
// garbage included) and what the elb_config shared dict holds.
import { startEtcd, stopAll, stopOnSignals } from "../test/harness/index.mjs";
import { workerMemory } from "./lib/measure.mjs";
import { domainEntries, upstreamEntries } from "./lib/rules.mjs";
import { bulkPut, startElb, waitLoaded } from "./lib/servers.mjs";

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const option = (name) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const [domains = 100000, workers = 1] = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--lua").map(Number);
const mib = (kb) => Math.round(kb / 1024);

stopOnSignals();
try {
  const etcd = await startEtcd();
  const name = "MEMORY";
  await bulkPut(etcd, upstreamEntries(name, { up1: { "127.0.0.1:1": "" }, up2: { "127.0.0.1:1": "" } }));
  await bulkPut(etcd, domainEntries(name, domains, 1, { distinct: flag("distinct") }));
  const lua = option("lua");
  const elb = await startElb({ etcd: etcd.endpoint, elbName: name, workers, env: lua ? { ELB_LUA_DIR: lua } : {} });
  await waitLoaded(elb, domains, 300000);
  const cold = (Date.now() - elb.startedAt) / 1000;
  const loaded = workerMemory(elb);
  await new Promise((r) => setTimeout(r, 5000));
  const later = workerMemory(elb);
  const metrics = String((await elb.api("GET", "metrics")).body);
  const heap = (w) => Number(metrics.match(new RegExp(`elb_worker_lua_memory_bytes\\{worker="${w}"\\} (\\S+)`))?.[1]) / 1048576;
  const dict = (what) => Number(metrics.match(new RegExp(`elb_shared_dict_${what}_bytes\\{dict="elb_config"\\} (\\S+)`))?.[1]) / 1048576;
  console.log(`${domains} domains${flag("distinct") ? " (each its own rule set)" : ""}, ${workers} worker(s): cold load ${cold.toFixed(2)} s; elb_config holds ${(dict("capacity") - dict("free")).toFixed(0)} MiB`);
  loaded.forEach((m, i) => {
    const l = later[i];
    console.log(`  worker ${i}: RSS ${mib(m.rss_kb)} / PSS ${mib(m.pss_kb)} MiB after the load, ${mib(l.rss_kb)} / ${mib(l.pss_kb)} 5 s later; Lua heap ${heap(i).toFixed(0)} MiB`);
  });
  console.log(`  node: PSS ${mib(later.reduce((s, m) => s + m.pss_kb, 0))} MiB over its workers`);
} finally {
  await stopAll();
}
