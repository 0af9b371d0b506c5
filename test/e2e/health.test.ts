// Active health checks under real traffic: an http check taking a server out after `fall`
// failures and back after `rise` successes, once per node (one worker checks; another takes
// over when it dies); a node-state endpoint switching a server to drain and to offline;
// backups used only while the primaries are unhealthy. Real etcd, nginx with 2 workers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Elb, Etcd, sleep, startElb, startEtcd, stopAll, waitFor } from "./harness";
import { elbApi, stickyCookie } from "./elb-api";
import { startApp, stopServers } from "./servers";

let etcd: Etcd;
let elb: Elb;

const { admin, setup, get, servers } = elbApi(() => elb);

async function server(name: string, addr: string): Promise<any> {
  return (await servers(name))[addr];
}

async function waitState(name: string, addr: string, state: string, ms = 5000) {
  return waitFor(async () => {
    const s = await server(name, addr);
    return s?.state === state ? s : undefined;
  }, ms, `${addr} of ${name} to be ${state}`);
}

function count(text: string, re: RegExp): number {
  return (text.match(new RegExp(re.source, "g")) ?? []).length;
}

beforeAll(async () => {
  etcd = await startEtcd();
  elb = await startElb({ etcd: etcd.endpoint, workers: 2 });
});

afterAll(async () => {
  await stopAll();
  await stopServers();
});

describe("http checks", () => {
  it("take a server out after `fall` failures and back after `rise` successes, once per node", async () => {
    const a = await startApp("A");
    const b = await startApp("B");
    const check = { type: "http", path: "/health", interval: 0.2, timeout: 0.5, rise: 2, fall: 2 };
    const domain = await setup("hc", { [a.addr]: "", [b.addr]: "" }, { healthcheck: check });
    const first = await waitFor(async () => (await server("hc", a.addr))?.checked_at, 3000, "a first check");
    expect(first).toBeGreaterThan(Date.now() / 1000 - 5);
    expect(await server("hc", a.addr)).toMatchObject({ state: "up", healthy: true, fails: 0 });

    // checks run once per node, not once per worker: about 5 per second at interval 0.2
    const before = a.healthHits;
    await sleep(1000);
    const perSecond = a.healthHits - before;
    expect(perSecond).toBeGreaterThanOrEqual(3);
    expect(perSecond).toBeLessThanOrEqual(7);

    a.healthStatus = 500;
    const down = await waitState("hc", a.addr, "unhealthy");
    expect(down.healthy).toBe(false);
    expect(down.fails).toBeGreaterThanOrEqual(2);
    const hitsWhileDown = a.hits();
    for (let i = 0; i < 10; i++) expect((await get(domain)).json.backend).toBe("B");
    expect(a.hits()).toBe(hitsWhileDown);

    a.healthStatus = 200;
    const up = await waitState("hc", a.addr, "up");
    expect(up.changes).toBe(2);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await get(domain)).json.backend);
    expect([...seen].sort()).toEqual(["A", "B"]);

    // each change logged once (one checker), with why
    const log = elb.errorLog();
    const key = `hc\\|${a.addr.replace(/\./g, "\\.")}`;
    expect(count(log, new RegExp(`health: server ${key}: up -> unhealthy \\(2 failed checks in a row, last: status 500\\)`))).toBe(1);
    expect(count(log, new RegExp(`health: server ${key}: unhealthy -> up \\(2 successful checks in a row\\)`))).toBe(1);
  });

  it("a refused connection fails the check too; another worker takes the checks over when the checking one dies", async () => {
    const c = await startApp("C");
    const d = await startApp("D");
    const check = { type: "http", path: "/health", interval: 0.2, timeout: 0.3, rise: 1, fall: 1 };
    const domain = await setup("hc2", { [c.addr]: "", [d.addr]: "" }, { healthcheck: check });
    await waitFor(async () => (await server("hc2", c.addr))?.checked_at, 3000, "a first check");
    const leaders = [...elb.errorLog().matchAll(/worker (\d+) runs the active health checks/g)].map((m) => Number(m[1]));
    expect(leaders.length).toBeGreaterThan(0);
    process.kill(leaders[leaders.length - 1], "SIGKILL");
    await waitFor(() => {
      const now = [...elb.errorLog().matchAll(/worker (\d+) runs the active health checks/g)].map((m) => Number(m[1]));
      return now.length > leaders.length;
    }, 8000, "another worker to run the checks");
    await c.kill();
    await waitState("hc2", c.addr, "unhealthy");
    // the log line may trail the state by a moment on a loaded machine; a check in flight
    // when the server died sees its connection reset rather than refused
    const line = /health: server hc2\|127\.0\.0\.1:\d+: up -> unhealthy \(1 failed checks in a row, last: (connect to 127\.0\.0\.1:\d+: connection refused|no answer: connection reset by peer)\)/;
    await waitFor(() => line.test(elb.errorLog()), 3000, "the state change in the error log").catch(() => undefined);
    expect(elb.errorLog()).toMatch(line);
    for (let i = 0; i < 6; i++) expect((await get(domain)).json.backend).toBe("D");
    await c.restart();
    await waitState("hc2", c.addr, "up");
  });

  it("backups serve only while every primary is unhealthy", async () => {
    const p1 = await startApp("P1");
    const p2 = await startApp("P2");
    const z = await startApp("Z");
    const check = { type: "http", path: "/health", interval: 0.2, timeout: 0.5, rise: 1, fall: 1 };
    const domain = await setup("hcb", { [p1.addr]: "", [p2.addr]: "", [z.addr]: "backup" }, { algorithm: "least_conn", healthcheck: check });
    await waitFor(async () => (await server("hcb", z.addr))?.checked_at, 3000, "a first check");
    for (let i = 0; i < 6; i++) expect((await get(domain)).json.backend).not.toBe("Z");
    p1.healthStatus = 503;
    await waitState("hcb", p1.addr, "unhealthy");
    for (let i = 0; i < 6; i++) expect((await get(domain)).json.backend).toBe("P2");
    p2.healthStatus = 503;
    await waitState("hcb", p2.addr, "unhealthy");
    for (let i = 0; i < 6; i++) expect((await get(domain)).json.backend).toBe("Z");
    p1.healthStatus = 200;
    await waitState("hcb", p1.addr, "up");
    const zHits = z.hits();
    for (let i = 0; i < 6; i++) expect((await get(domain)).json.backend).toBe("P1");
    expect(z.hits()).toBe(zHits);
  });
});

describe("node-state checks", () => {
  it("the server's status endpoint switches it to drain (sticky clients stay), offline, and back", async () => {
    const a = await startApp("NA");
    const b = await startApp("NB");
    const check = { type: "node-state", path: "/state", interval: 0.2, timeout: 0.5, rise: 2, fall: 3 };
    const domain = await setup("ns", { [a.addr]: "", [b.addr]: "" }, { healthcheck: check, sticky: { cookie: "srv" } });
    await waitFor(async () => (await server("ns", b.addr))?.checked_at, 3000, "a first check");
    let cookie: string | undefined;
    for (let i = 0; i < 8 && !cookie; i++) {
      const r = await get(domain);
      if (r.json.backend === "NB") cookie = stickyCookie(r.headers, "srv");
    }
    expect(cookie).toBeDefined();

    b.stateStatus = 404; // disabled
    const drained = await waitState("ns", b.addr, "drain");
    expect(drained.healthy).toBe(true);
    for (let i = 0; i < 8; i++) expect((await get(domain)).json.backend).toBe("NA");
    for (let i = 0; i < 4; i++) expect((await get(domain, { Cookie: cookie! })).json.backend).toBe("NB");

    b.stateStatus = 503; // offline
    await waitState("ns", b.addr, "down");
    const moved = await get(domain, { Cookie: cookie! });
    expect(moved.json.backend).toBe("NA");
    const hits = b.hits();
    for (let i = 0; i < 6; i++) expect((await get(domain)).json.backend).toBe("NA");
    expect(b.hits()).toBe(hits);

    b.stateStatus = 200; // enabled again, after `rise` answers
    await waitState("ns", b.addr, "up");
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await get(domain)).json.backend);
    expect([...seen].sort()).toEqual(["NA", "NB"]);
    const log = elb.errorLog();
    expect(log).toMatch(/health: server ns\|127\.0\.0\.1:\d+: up -> drain \(its status endpoint answered 404: disabled\)/);
    expect(log).toMatch(/health: server ns\|127\.0\.0\.1:\d+: drain -> offline \(its status endpoint answered 503: offline\)/);
    expect(log).toMatch(/health: server ns\|127\.0\.0\.1:\d+: offline -> up \(its status endpoint answered 200 \(enabled\) 2 times in a row\)/);
  });

  it("removing the healthcheck from the policy forgets what the checks found", async () => {
    const a = await startApp("RA");
    const check = { type: "http", path: "/health", interval: 0.2, timeout: 0.5, rise: 1, fall: 1 };
    const domain = await setup("forget", { [a.addr]: "" }, { healthcheck: check, on_all_down: "fail" });
    a.healthStatus = 500;
    await waitState("forget", a.addr, "unhealthy");
    expect((await get(domain)).status).toBe(502);
    expect((await admin("PUT", "policy", { forget: { on_all_down: "fail" } })).status).toBe(200);
    const s = await server("forget", a.addr);
    expect(s).toMatchObject({ state: "up", healthy: true });
    expect(s.checked_at).toBeUndefined();
    expect((await get(domain)).status).toBe(200);
  });
});
