// Policies under real traffic: the /__erulb__/policy API, each algorithm, sticky cookies,
// server states (drain, down, backup), retries (never a POST once sent), timeouts,
// on_all_down, fail_statuses, and the health fields of GET /__erulb__/upstream.
// Real etcd, real nginx (2 workers), real backends, all on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Elb, Etcd, etcdctl, freePort, sleep, startBackend, startElb, startEtcd, stopAll, waitFor } from "./harness";
import { elbApi, stickyCookie } from "./elb-api";
import { App, startApp, startDropper, stopServers } from "./servers";

let etcd: Etcd;
let elb: Elb;

const { admin, setup, get, servers } = elbApi(() => elb);

/** Runs `loops` request loops against `domain` for `ms`; every status and backend seen. */
async function traffic(domain: string, loops: number, ms: number, during?: () => Promise<void>) {
  const seen: { status: number; backend: string }[] = [];
  let stop = false;
  const runs = Array.from({ length: loops }, async () => {
    while (!stop) {
      const r = await get(domain);
      seen.push({ status: r.status, backend: r.json?.backend });
    }
  });
  if (during) await during();
  await sleep(ms);
  stop = true;
  await Promise.all(runs);
  return seen;
}

function countBy(list: { backend: string }[]) {
  const out: Record<string, number> = {};
  for (const x of list) out[x.backend] = (out[x.backend] ?? 0) + 1;
  return out;
}

beforeAll(async () => {
  etcd = await startEtcd();
  elb = await startElb({ etcd: etcd.endpoint, workers: 2 });
});

afterAll(async () => {
  await stopAll();
  await stopServers();
});

describe("the policy API", () => {
  it("PUT validates, writes etcd, GET answers what was written, DELETE removes", async () => {
    const policy = { algorithm: "chash", hash_on: "header:X-User", retries: 1, timeouts: { connect: 0.5 } };
    const put = await admin("PUT", "policy", { api1: policy, api2: {} });
    expect(put.status).toBe(200);
    expect(put.json).toEqual({ msg: "OK" });
    expect((await admin("GET", "policy")).json).toEqual({ api1: policy, api2: {} });
    const stored = (await etcdctl(etcd.endpoint, "get", "/ELB/policies/api1", "--print-value-only")).stdout.trim();
    expect(JSON.parse(stored)).toEqual(policy);
    const del = await admin("DELETE", "policy", ["api2", "never-was"]);
    expect(del.status).toBe(200);
    expect((await admin("GET", "policy")).json).toEqual({ api1: policy });
    expect((await etcdctl(etcd.endpoint, "get", "/ELB/policies/api2")).stdout.trim()).toBe("");
    await admin("DELETE", "policy", ["api1"]);
  });

  it("answers 400 with every problem and where, and writes nothing", async () => {
    const r = await admin("PUT", "policy", {
      ok1: { algorithm: "least_conn" },
      bad: { algorithm: "random", sticky: { cookie: "" }, healthcheck: { type: "http", rise: 0 } },
      "no/slash": {},
    });
    expect(r.status).toBe(400);
    expect(r.json.msg).toBe("invalid request body: 4 problems");
    expect(r.json.errors).toEqual([
      { path: "/bad/algorithm", error: 'unknown algorithm "random" (known: roundrobin, least_conn, chash, ewma)' },
      { path: "/bad/sticky/cookie", error: "cookie name must not be empty" },
      { path: "/bad/healthcheck/rise", error: "must be a whole number from 1 to 100, got 0" },
      { path: "/no~1slash", error: "upstream name may hold only letters, digits, '.', '-' and '_'" },
    ]);
    expect((await admin("GET", "policy")).json).toEqual({});
    expect((await admin("DELETE", "policy", [1])).status).toBe(400);
    const methods = await admin("POST", "policy", {});
    expect(methods.status).toBe(405);
    expect(methods.headers.allow).toBe("DELETE, GET, PUT");
  });

  it("skips an invalid policy written with etcdctl and keeps the last valid one", async () => {
    await admin("PUT", "policy", { hand: { algorithm: "least_conn" } });
    await etcdctl(etcd.endpoint, "put", "/ELB/policies/hand", '{"algorithm": "fastest"}');
    await waitFor(async () => (await admin("GET", "status")).json.invalid_keys["/ELB/policies/hand"], 5000, "the invalid policy in status");
    expect((await admin("GET", "policy")).json.hand).toEqual({ algorithm: "least_conn" });
    expect(elb.errorLog()).toMatch(/\/ELB\/policies\/hand.*unknown algorithm "fastest"/);
    await admin("DELETE", "policy", ["hand"]);
  });
});

describe("algorithms under real traffic", () => {
  it("least_conn sends most requests to the server that answers faster", async () => {
    const slow = await startApp("slow", { delayMs: 150 });
    const fast = await startApp("fast");
    const domain = await setup("lc", { [slow.addr]: "", [fast.addr]: "" }, { algorithm: "least_conn" });
    const seen = await traffic(domain, 6, 1200);
    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    const c = countBy(seen);
    expect(c.fast / seen.length).toBeGreaterThan(0.75);
  });

  it("ewma sends most requests to the server with the lower latency", async () => {
    const slow = await startApp("slow", { delayMs: 80 });
    const fast = await startApp("fast");
    const domain = await setup("ewma", { [slow.addr]: "", [fast.addr]: "" }, { algorithm: "ewma" });
    const seen = await traffic(domain, 4, 1200);
    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    expect(countBy(seen).fast / seen.length).toBeGreaterThan(0.8);
  });

  it("chash on a header keeps each key on one server, and keys spread", async () => {
    const apps = [await startApp("H1"), await startApp("H2"), await startApp("H3")];
    const domain = await setup("ch", Object.fromEntries(apps.map((a) => [a.addr, ""])), { algorithm: "chash", hash_on: "header:X-User" });
    const owner: Record<string, string> = {};
    for (let k = 0; k < 24; k++) {
      for (let i = 0; i < 3; i++) {
        const r = await get(domain, { "X-User": `user-${k}` });
        expect(r.status).toBe(200);
        owner[`user-${k}`] ??= r.json.backend;
        expect(r.json.backend, `user-${k}`).toBe(owner[`user-${k}`]);
      }
    }
    expect(new Set(Object.values(owner)).size).toBe(3);
    // without the header: the client's address, so one server too
    const first = (await get(domain)).json.backend;
    for (let i = 0; i < 5; i++) expect((await get(domain)).json.backend).toBe(first);
    // a key whose server dies moves; the other keys stay where they were
    const victim = apps.find((a) => a.name === owner["user-0"])!;
    await victim.kill();
    for (let k = 0; k < 24; k++) {
      const r = await get(domain, { "X-User": `user-${k}` });
      expect(r.status).toBe(200);
      if (owner[`user-${k}`] === victim.name) expect(r.json.backend).not.toBe(victim.name);
      else expect(r.json.backend, `user-${k}`).toBe(owner[`user-${k}`]);
    }
  });

  it("loses no GET when a backend is killed under steady traffic", async () => {
    const apps = [await startApp("K1"), await startApp("K2"), await startApp("K3")];
    const domain = await setup("kill", Object.fromEntries(apps.map((a) => [a.addr, ""])), { algorithm: "least_conn" });
    const seen = await traffic(domain, 4, 800, async () => {
      await sleep(300);
      await apps[1].kill();
    });
    expect(seen.length).toBeGreaterThan(40);
    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    expect(apps[1].hits()).toBeGreaterThan(0);
    expect(countBy(seen.slice(-20)).K2).toBeUndefined();
  });
});

describe("sticky sessions", () => {
  let apps: App[];
  let domain: string;
  beforeAll(async () => {
    apps = [await startApp("S1"), await startApp("S2"), await startApp("S3")];
    domain = await setup("sticky", Object.fromEntries(apps.map((a) => [a.addr, ""])), { sticky: { cookie: "elb_srv", ttl: 60 } });
  });

  it("sets an HttpOnly cookie with an opaque value, beside the server's own cookies", async () => {
    const r = await get(domain);
    const all = ([] as string[]).concat(r.headers["set-cookie"] ?? []);
    expect(all).toContain("app=1; Path=/");
    const mine = all.find((c) => c.startsWith("elb_srv="))!;
    expect(mine).toMatch(/^elb_srv=[0-9a-f]{16}; Path=\/; HttpOnly; Max-Age=60$/);
    const app = apps.find((a) => a.name === r.json.backend)!;
    expect(mine).not.toContain(String(app.port));
    expect(mine).not.toContain("127.0.0.1");
  });

  it("keeps a client on its server, and moves it (with a new cookie) when the server dies", async () => {
    const first = await get(domain);
    const cookie = stickyCookie(first.headers, "elb_srv")!;
    const home = first.json.backend;
    for (let i = 0; i < 12; i++) {
      const r = await get(domain, { Cookie: cookie });
      expect(r.json.backend).toBe(home);
      expect(stickyCookie(r.headers, "elb_srv")).toBeUndefined(); // already has it
    }
    // other clients still spread
    const others = new Set<string>();
    for (let i = 0; i < 6; i++) others.add((await get(domain)).json.backend);
    expect(others.size).toBe(3);
    await apps.find((a) => a.name === home)!.kill();
    const moved = await get(domain, { Cookie: cookie });
    expect(moved.status).toBe(200);
    expect(moved.json.backend).not.toBe(home);
    const next = stickyCookie(moved.headers, "elb_srv")!;
    expect(next).toBeDefined();
    expect(next).not.toBe(cookie);
    for (let i = 0; i < 6; i++) expect((await get(domain, { Cookie: next })).json.backend).toBe(moved.json.backend);
  });
});

describe("server states", () => {
  it("drain: no new clients, sticky clients keep the server; down: nobody", async () => {
    const a = await startApp("D1");
    const b = await startApp("D2");
    const policy = { sticky: { cookie: "srv" } };
    const domain = await setup("drain", { [a.addr]: "", [b.addr]: "" }, policy);
    let cookie: string | undefined;
    for (let i = 0; i < 8 && !cookie; i++) {
      const r = await get(domain);
      if (r.json.backend === "D2") cookie = stickyCookie(r.headers, "srv");
    }
    expect(cookie).toBeDefined();
    await setup("drain", { [a.addr]: "", [b.addr]: "drain" });
    expect((await servers("drain"))[b.addr]).toMatchObject({ drain: true, state: "drain", healthy: true });
    for (let i = 0; i < 8; i++) expect((await get(domain)).json.backend).toBe("D1");
    for (let i = 0; i < 4; i++) expect((await get(domain, { Cookie: cookie! })).json.backend).toBe("D2");
    await setup("drain", { [a.addr]: "", [b.addr]: "down" });
    expect((await servers("drain"))[b.addr]).toMatchObject({ down: true, state: "down" });
    const r = await get(domain, { Cookie: cookie! });
    expect(r.json.backend).toBe("D1");
    expect(stickyCookie(r.headers, "srv")).toBeDefined();
  });

  it("backup only when no primary is usable", async () => {
    const p1 = await startApp("P1");
    const p2 = await startApp("P2");
    const z = await startApp("Z");
    const domain = await setup("bk", { [p1.addr]: "", [p2.addr]: "", [z.addr]: "backup" }, { algorithm: "least_conn" });
    expect((await servers("bk"))[z.addr]).toMatchObject({ backup: true, state: "backup" });
    for (let i = 0; i < 8; i++) expect((await get(domain)).json.backend).not.toBe("Z");
    expect(z.hits()).toBe(0);
    await p1.kill();
    await p2.kill();
    for (let i = 0; i < 6; i++) expect((await get(domain)).json.backend).toBe("Z");
  });

  it("on_all_down: fail answers 502 when nothing is usable, any tries them anyway", async () => {
    const a = await startApp("O1");
    const domain = await setup("alldown", { [a.addr]: "drain" }, { on_all_down: "fail" });
    const failed = await get(domain);
    expect(failed.status).toBe(502);
    expect(failed.json).toEqual({ msg: "no server of the upstream could answer", upstream: "alldown" });
    expect(a.hits()).toBe(0);
    await admin("PUT", "policy", { alldown: { on_all_down: "any" } });
    expect((await get(domain)).status).toBe(200);
    await admin("DELETE", "policy", ["alldown"]);
    expect((await get(domain)).status).toBe(200); // no policy: nginx's way, as before
  });
});

describe("retries and timeouts", () => {
  it("retries a GET the server dropped, never a POST that was sent", async () => {
    const dropper = await startDropper();
    const good = await startApp("G");
    // max_fails=0 keeps the dropping server in rotation
    const domain = await setup("post", { [dropper.addr]: "max_fails=0", [good.addr]: "max_fails=0" });
    for (let i = 0; i < 8; i++) expect((await get(domain)).status).toBe(200);
    expect(dropper.received.filter((t) => t.startsWith("GET ")).length).toBeGreaterThan(0);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await elb.request({ method: "POST", path: "/order", headers: { Host: domain }, body: `order-${i}` })).status);
    }
    const droppedPosts = dropper.received.filter((t) => t.startsWith("POST "));
    expect(droppedPosts.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 502).length).toBe(droppedPosts.length);
    expect(statuses.filter((s) => s === 200).length).toBe(8 - droppedPosts.length);
    // no order reached a server twice
    const bodies = [...droppedPosts.map((t) => t.slice(t.indexOf("\r\n\r\n") + 4)), ...good.requests.filter((r) => r.method === "POST").map((r) => r.body)];
    expect(bodies.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `order-${i}`).sort());
  });

  it("retries a POST whose connection was refused (nothing was sent)", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const good = await startApp("R");
    const domain = await setup("refused", { [dead]: "max_fails=0", [good.addr]: "max_fails=0" });
    for (let i = 0; i < 6; i++) {
      const r = await elb.request({ method: "POST", path: "/", headers: { Host: domain }, body: `p${i}` });
      expect(r.status).toBe(200);
    }
    expect(good.requests.filter((r) => r.method === "POST").length).toBe(6);
  });

  it("retries: 0 gives up after the first server", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const good = await startApp("N");
    const domain = await setup("noretry", { [dead]: "max_fails=0", [good.addr]: "max_fails=0" }, { retries: 0 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(domain)).status);
    // each worker alternates: some tries land on the dead server and are not retried
    expect(statuses.filter((s) => s === 502).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200 && s !== 502)).toEqual([]);
  });

  it("timeouts: a read timeout goes to the next server, answered in time", async () => {
    const slow = await startApp("T1", { delayMs: 2000 });
    const fast = await startApp("T2");
    const domain = await setup("timeouts", { [slow.addr]: "", [fast.addr]: "" }, { timeouts: { read: 0.3 } });
    for (let i = 0; i < 4; i++) {
      const t0 = Date.now();
      const r = await get(domain);
      expect(r.status).toBe(200);
      expect(r.json.backend).toBe("T2");
      expect(Date.now() - t0).toBeLessThan(1500);
    }
    expect((await servers("timeouts"))[slow.addr]).toMatchObject({ state: "unhealthy", healthy: false, fails: 1 });
  });
});

describe("health in the API and passive checks", () => {
  it("shows requests in flight on this node as active", async () => {
    const slow = await startApp("A1", { delayMs: 800 });
    const domain = await setup("inflight", { [slow.addr]: "" });
    const pending = Promise.all([get(domain), get(domain)]);
    await waitFor(async () => (await servers("inflight"))[slow.addr].active === 2, 3000, "2 requests in flight");
    await pending;
    await waitFor(async () => (await servers("inflight"))[slow.addr].active === 0, 3000, "none in flight");
  });

  it("fail_statuses: a 5xx answer counts as a failure", async () => {
    const good = await startApp("F1");
    const broken = await startBackend("F2", { status: 500 });
    const domain = await setup("fivexx", { [good.addr]: "", [broken.addr]: "fail_timeout=30" }, { fail_statuses: [500, 502, 503, 504] });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await get(domain)).status);
    // the first 500 took the server out, for every worker
    expect(statuses.filter((s) => s === 500).length).toBe(1);
    expect((await servers("fivexx"))[broken.addr]).toMatchObject({ state: "unhealthy", healthy: false });
    expect(elb.errorLog()).toMatch(/health: server fivexx\|127\.0\.0\.1:\d+: up -> unhealthy \(1 failed requests/);
  });
});
