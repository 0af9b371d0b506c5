// Concurrency: 20 writers at once (10 on each of two nodes) on one upstream and one domain.
// Every answer must be OK or a clear refusal (409: the keys kept changing; 429: the node's
// limit of writes at once, set to 4 here); afterwards etcd must hold exactly one of the acknowledged bodies
// (never a mix of two), and both nodes' GET must agree with etcd.
import { startElb, startEtcd, stopAll, sleep, type Elb } from "../../test/harness/index.mjs";
import { readState } from "../lib/etcd-state";
import { same } from "../lib/same";
import { Tally } from "../lib/tally";
import { LogWatch, workerSet } from "../lib/watch";
import type { Options } from "../run";

const MEMBERS = ["127.0.0.1:9201", "127.0.0.1:9202", "127.0.0.1:9203", "127.0.0.1:9204", "127.0.0.1:9205", "127.0.0.1:9206"];

function rand(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

export async function run(opts: Options): Promise<Tally> {
  const t = new Tally("concurrency", "Concurrency");
  const rounds = opts.quick ? 5 : 25;
  const etcd = await startEtcd();
  // a low limit of writes at once, so that 10 writers per node meet it
  const env = { ...opts.env, ELB_ADMIN_MAX_WRITES: "4" };
  const nodes: Elb[] = [await startElb({ etcd: etcd.endpoint, workers: 2, env }), await startElb({ etcd: etcd.endpoint, workers: 2, env })];
  try {
    for (const n of nodes) await n.waitLoaded(15000);
    const logs = nodes.map((n) => LogWatch.of(n));
    const workers = nodes.map(workerSet);
    const ackedUpstreams: Record<string, string>[] = [];
    const ackedDomains: unknown[] = [];
    const statuses: Record<string, number> = {};
    const writer = async (w: number) => {
      const node = nodes[w % 2];
      const r = rand(opts.seed + w);
      for (let i = 0; i < rounds; i++) {
        const servers: Record<string, string> = {};
        for (const m of MEMBERS) if (r() < 0.5) servers[m] = r() < 0.5 ? "" : `weight=${1 + Math.floor(r() * 9)}`;
        if (Object.keys(servers).length === 0) servers[MEMBERS[w % MEMBERS.length]] = "";
        const domain = { init: "b", rules: { b: { type: "backend", args: { servername: "cup", "X-Writer": `${w}-${i}` } } } };
        for (const [resource, body, acked] of [["upstream", { cup: servers }, () => ackedUpstreams.push(servers)], ["domain", { "c.test": domain }, () => ackedDomains.push(domain)]] as const) {
          const res = await node.api("PUT", resource, body).catch((e) => ({ status: -1, body: String(e), headers: {} as Record<string, string> }));
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          const problems = [];
          if (res.status === 200) acked();
          else if (res.status === 429 && res.headers["retry-after"] === undefined) problems.push({ what: "429 without Retry-After", severity: 4 });
          else if (res.status !== 409 && res.status !== 429) problems.push({ what: res.status >= 500 || res.status < 0 ? "answered >= 500 or not at all" : "an unclear refusal", detail: `${res.status} ${res.body.slice(0, 200)}`, severity: 8 });
          t.count(`writer ${w} round ${i}: PUT ${resource} on node ${w % 2}`, problems);
          if (res.status === 429) await sleep(20 + r() * 50);
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, w) => writer(w)));
    // both nodes catch up, then etcd, the nodes and the acknowledged bodies must agree
    await sleep(300);
    const state = await readState(etcd.endpoint, nodes[0].elbName);
    const inEtcd: Record<string, string> = {};
    for (const [k, v] of state) if (k.startsWith("/ELB/upstreams/cup/")) inEtcd[k.slice("/ELB/upstreams/cup/".length)] = v.value.toString();
    const domain = state.get("/ELB/rules/c.test");
    const problems = [];
    if (!ackedUpstreams.some((a) => same(a, inEtcd))) problems.push({ what: "etcd holds an upstream no writer was told OK for (a mix)", detail: JSON.stringify(inEtcd), severity: 10 });
    if (domain && !ackedDomains.some((d) => same(d, JSON.parse(domain.value.toString())))) problems.push({ what: "etcd holds a domain no writer was told OK for", detail: domain.value.toString().slice(0, 200), severity: 10 });
    for (const [i, n] of nodes.entries()) {
      const ups = (await n.api("GET", "upstream")).json?.cup ?? [];
      const got = Object.fromEntries(ups.map((s: { addr: string }) => [s.addr, true]));
      if (Object.keys(got).sort().join() !== Object.keys(inEtcd).sort().join()) problems.push({ what: "a node's GET disagrees with etcd", detail: `node ${i}: ${Object.keys(got).join(",")} vs ${Object.keys(inEtcd).join(",")}`, severity: 9 });
      const d = (await n.api("GET", "domain")).json?.["c.test"];
      if (domain && !same(d, JSON.parse(domain.value.toString()))) problems.push({ what: "a node's GET disagrees with etcd", detail: `node ${i} domain`, severity: 9 });
      for (const line of logs[i].crashes()) problems.push({ what: "crash or Lua error in the error log", detail: line, severity: 9 });
      if (workerSet(n) !== workers[i]) problems.push({ what: "a worker died", severity: 10 });
    }
    t.count("final state: etcd, both nodes and the acknowledged bodies agree", problems);
    t.figures.answers = statuses;
    t.notes.push(`20 writers (10 per node), ${rounds} rounds each of a PUT of upstream cup (a random subset of ${MEMBERS.length} servers) and of domain c.test`);
  } finally {
    await stopAll();
  }
  return t;
}
