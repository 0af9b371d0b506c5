// The seed README's scenario end to end: real etcd, real nginx running ELB with 2 workers,
// real backends and a real statsd listener, all on 127.0.0.1 with ports picked at run time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, Statsd, etcdctl, sleep, startBackend, startElb, startEtcd, startStatsd, stopAll, waitFor } from "./harness";

let etcd: Etcd;
let elb: Elb;
let a: Backend;
let b: Backend;
let statsd: Statsd;

const seedRules = (up1: string, up2: string, rewrite = false) => ({
  init: "r1",
  rules: {
    r1: { type: "ua", args: { fail: "r3", pattern: "httpie(\\S+)$", succ: "r4" } },
    r2: { type: "backend", args: { servername: up1 } },
    r3: { type: "backend", args: { servername: up2 } },
    r4: { type: "path", args: { regex: true, pattern: "^\\/blog\\/(\\S+)$", succ: "r2", fail: "r3", rewrite } },
  },
});

async function admin(method: string, resource: string, body?: unknown) {
  return elb.request({ method, path: `/__erulb__/${resource}`, body });
}

async function get(host: string, path: string, ua?: string) {
  const headers: Record<string, string> = { Host: host };
  if (ua !== undefined) headers["User-Agent"] = ua;
  return elb.request({ path, headers });
}

/** Every worker applied the newest configuration event. */
async function allWorkersCurrent() {
  const s = (await admin("GET", "status")).json;
  return s.workers.every((w: { applied_event: number }) => w.applied_event === s.last_event);
}

beforeAll(async () => {
  etcd = await startEtcd();
  statsd = await startStatsd();
  a = await startBackend("A");
  b = await startBackend("B");
  elb = await startElb({ etcd: etcd.endpoint, statsd: statsd.endpoint, workers: 2 });
});

afterAll(stopAll);

describe("the seed README scenario", () => {
  it("PUT upstream answers OK and GET shows the Eru fields", async () => {
    const put = await admin("PUT", "upstream", { up1: { [a.addr]: "", [b.addr]: "" }, up2: { [b.addr]: "max_fails=2 weight=10" } });
    expect(put.status).toBe(200);
    expect(put.json).toEqual({ msg: "OK" });
    expect(await allWorkersCurrent()).toBe(true);
    const got = (await admin("GET", "upstream")).json;
    const sortByAddr = (l: any[]) => [...l].sort((x, y) => x.addr.localeCompare(y.addr));
    // the Eru fields, then this node's view of each server's health
    const health = { state: "up", healthy: true, fails: 0, active: 0, changes: 0 };
    // (and params: the text stored, which the dashboard's actions write back)
    expect(sortByAddr(got.up1)).toEqual(sortByAddr([a.addr, b.addr].map((addr) => ({ addr, name: addr, weight: 1, max_fails: 1, fail_timeout: 10, params: "", ...health }))));
    expect(got.up2).toEqual([{ addr: b.addr, name: b.addr, weight: 10, max_fails: 2, fail_timeout: 10, params: "max_fails=2 weight=10", ...health }]);
  });

  it("PUT domain with the ua -> path -> backend graph answers OK and GET returns it", async () => {
    const rules = seedRules("up1", "up2");
    const put = await admin("PUT", "domain", { localhost: rules });
    expect(put.status).toBe(200);
    expect(put.json).toEqual({ msg: "OK" });
    expect(await allWorkersCurrent()).toBe(true);
    const got = await admin("GET", "domain");
    expect(got.headers["content-type"]).toContain("application/json");
    expect(got.json).toEqual({ localhost: rules });
  });

  it("routes HTTPie to /blog/ to up1, anything else to up2", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await get("localhost", "/blog/post-1", "HTTPie/0.9.9");
      expect(r.status).toBe(200);
      expect(r.json.path).toBe("/blog/post-1");
      seen.add(r.json.backend);
    }
    expect([...seen].sort()).toEqual(["A", "B"]); // up1 holds both servers
    for (const [path, ua] of [["/blog/post-1", "curl/8.0"], ["/about", "HTTPie/0.9.9"], ["/blog/", "HTTPie/0.9.9"]] as const) {
      const r = await get("localhost", path, ua);
      expect(r.status, `${ua} ${path}`).toBe(200);
      expect(r.json.backend, `${ua} ${path}`).toBe("B");
    }
    const noUa = await get("localhost", "/blog/post-1");
    expect(noUa.json.backend).toBe("B"); // no User-Agent is a miss
  });

  it("matches the Host lowercased and without its port, and passes Host and X-Forwarded-For on", async () => {
    const r = await get("LOCALHOST:8080", "/x", "curl");
    expect(r.status).toBe(200);
    expect(r.json.backend).toBe("B");
    expect(r.json.headers.host).toBe("LOCALHOST:8080");
    expect(r.json.headers["x-forwarded-for"]).toBe("127.0.0.1");
  });

  it("rewrites the path to / + the first capture group, keeping the query string", async () => {
    const put = await admin("PUT", "domain", {
      "rw.test": seedRules("up2", "up2", true),
      "nogroup.test": { init: "p", rules: { p: { type: "path", args: { pattern: "^/old/.*$", regex: true, rewrite: true, succ: "b" } }, b: { type: "backend", args: { servername: "up2" } } } },
      "slash.test": { init: "p", rules: { p: { type: "path", args: { pattern: "^/v1(/.*)$", regex: true, rewrite: true, succ: "b" } }, b: { type: "backend", args: { servername: "up2" } } } },
    });
    expect(put.status).toBe(200);
    expect((await get("rw.test", "/blog/a/b?x=1&y=2", "HTTPie/1.0")).json.url).toBe("/a/b?x=1&y=2");
    expect((await get("rw.test", "/other?q=1", "HTTPie/1.0")).json.url).toBe("/other?q=1");
    expect((await get("nogroup.test", "/old/thing?k=v")).json.url).toBe("/?k=v");
    expect((await get("slash.test", "/v1/users")).json.url).toBe("/users");
  });

  it("sets a backend rule's other args as request headers", async () => {
    await admin("PUT", "domain", { "hdr.test": { init: "b", rules: { b: { type: "backend", args: { servername: "up2", "X-Env": "blue" } } } } });
    const r = await get("hdr.test", "/");
    expect(r.json.headers["x-env"]).toBe("blue");
  });

  it("routes to a literal host:port backend", async () => {
    await admin("PUT", "domain", { "literal.test": { init: "b", rules: { b: { type: "backend", args: { servername: a.addr } } } } });
    const r = await get("literal.test", "/lit");
    expect(r.status).toBe(200);
    expect(r.json.backend).toBe("A");
  });

  it("answers 404 for an unknown domain, 403 at a dead end, 502 for a missing upstream, all JSON", async () => {
    const unknown = await get("nobody.test", "/");
    expect(unknown.status).toBe(404);
    expect(unknown.json.msg).toBeTruthy();
    await admin("PUT", "domain", {
      "dead.test": { init: "p", rules: { p: { type: "path", args: { pattern: "/api/", succ: "b" } }, b: { type: "backend", args: { servername: "up2" } } } },
      "missing.test": { init: "b", rules: { b: { type: "backend", args: { servername: "no-such-upstream" } } } },
    });
    expect((await get("dead.test", "/api/x")).status).toBe(200);
    const dead = await get("dead.test", "/web/x");
    expect(dead.status).toBe(403);
    expect(dead.json.msg).toBeTruthy();
    const missing = await get("missing.test", "/");
    expect(missing.status).toBe(502);
    expect(missing.json.msg).toContain("upstream");
  });

  it("wrote every change to etcd under the Eru layout", async () => {
    const ups = (await etcdctl(etcd.endpoint, "get", "--prefix", "/ELB/upstreams/")).stdout.trim().split("\n");
    expect(ups).toContain(`/ELB/upstreams/up2/${b.addr}`);
    expect(ups[ups.indexOf(`/ELB/upstreams/up2/${b.addr}`) + 1]).toBe("max_fails=2 weight=10");
    const rules = (await etcdctl(etcd.endpoint, "get", "/ELB/rules/localhost", "--print-value-only")).stdout.trim();
    expect(JSON.parse(rules)).toEqual(seedRules("up1", "up2"));
  });
});

describe("balancing", () => {
  it("distributes by weight", async () => {
    await admin("PUT", "upstream", { weighted: { [a.addr]: "weight=3", [b.addr]: "weight=1" } });
    await admin("PUT", "domain", { "w.test": { init: "b", rules: { b: { type: "backend", args: { servername: "weighted" } } } } });
    const counts: Record<string, number> = { A: 0, B: 0 };
    for (let i = 0; i < 400; i++) counts[(await get("w.test", "/")).json.backend]++;
    // each worker runs its own smooth round robin: the split is 3:1 up to a few requests
    expect(counts.A).toBeGreaterThanOrEqual(290);
    expect(counts.A).toBeLessThanOrEqual(310);
    expect(counts.A + counts.B).toBe(400);
  });

  it("retries a killed backend's requests on the next server: no failed request", async () => {
    const c = await startBackend("C");
    const d = await startBackend("D");
    await admin("PUT", "upstream", { pair: { [c.addr]: "", [d.addr]: "" } });
    await admin("PUT", "domain", { "kill.test": { init: "b", rules: { b: { type: "backend", args: { servername: "pair" } } } } });
    const statuses: number[] = [];
    let stop = false;
    const traffic = (async () => {
      while (!stop) statuses.push((await get("kill.test", "/k")).status);
    })();
    await sleep(300);
    await d.kill();
    await sleep(700);
    stop = true;
    await traffic;
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(d.hits()).toBeGreaterThan(0);
    expect(elb.errorLog()).toMatch(/server 127\.0\.0\.1:\d+ of pair\|127\.0\.0\.1:\d+ failed 1 times/);
  });

  it("answers JSON 502 when every server of an upstream is dead", async () => {
    const e = await startBackend("E");
    await admin("PUT", "upstream", { dead: { [e.addr]: "" } });
    await admin("PUT", "domain", { "alldead.test": { init: "b", rules: { b: { type: "backend", args: { servername: "dead" } } } } });
    await e.kill();
    const r = await get("alldead.test", "/");
    expect(r.status).toBe(502);
    expect(r.json).toEqual({ msg: "no server of the upstream could answer", upstream: "dead" });
  });

  it("uses a backup server only when the primary is unusable, and never a down one", async () => {
    const p = await startBackend("P");
    const s = await startBackend("S");
    const z = await startBackend("Z");
    await admin("PUT", "upstream", { withbackup: { [p.addr]: "", [s.addr]: "backup", [z.addr]: "down" } });
    await admin("PUT", "domain", { "backup.test": { init: "b", rules: { b: { type: "backend", args: { servername: "withbackup" } } } } });
    for (let i = 0; i < 5; i++) expect((await get("backup.test", "/")).json.backend).toBe("P");
    await p.kill();
    for (let i = 0; i < 5; i++) expect((await get("backup.test", "/")).json.backend).toBe("S");
    expect(z.hits()).toBe(0);
  });
});

describe("statsd", () => {
  it("receives total, status and cost with the Eru names, in datagrams of at most 1400 bytes", async () => {
    statsd.clear();
    for (let i = 0; i < 30; i++) await get("localhost", "/stats", "curl");
    await get("dead.test", "/nowhere");
    // a flush may span several datagrams: wait for all of it
    await statsd.waitFor(() => statsd.counter("ELB.localhost.total") >= 30 && statsd.counter("ELB.dead_test.status.403") >= 1 && statsd.timings("ELB.localhost.cost").length >= 30, 5000);
    expect(statsd.counter("ELB.localhost.total")).toBe(30);
    expect(statsd.counter("ELB.localhost.status.200")).toBe(30);
    const costs = statsd.timings("ELB.localhost.cost");
    expect(costs.length).toBe(30);
    for (const c of costs) expect(c).toBeGreaterThanOrEqual(0);
    // aggregated: far fewer datagrams than requests
    expect(statsd.datagrams.length).toBeLessThan(10);
    for (const d of statsd.datagrams) expect(Buffer.byteLength(d)).toBeLessThanOrEqual(1400);
    // unknown domains create no metric names
    await get("random-host.test", "/");
    await sleep(300);
    expect(statsd.lines.some((l) => l.includes("random-host"))).toBe(false);
  });

  it("keeps datagrams under 1400 bytes and samples timings under load", async () => {
    statsd.clear();
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 40; i++) await get("localhost", "/load", "curl");
    }));
    await waitFor(() => statsd.counter("ELB.localhost.total") >= 320, 5000, "320 requests counted").catch((e) => {
      throw new Error(`${e.message}; counted ${statsd.counter("ELB.localhost.total")}; last lines:\n${statsd.lines.slice(-20).join("\n")}`);
    });
    expect(statsd.counter("ELB.localhost.total")).toBe(320);
    for (const d of statsd.datagrams) expect(Buffer.byteLength(d)).toBeLessThanOrEqual(1400);
  });
});
