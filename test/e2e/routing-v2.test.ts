// Routing v2 end to end: real etcd, real nginx running ELB with 2 workers, real backends, all on
// 127.0.0.1 with ports picked at run time. Wildcard and default hosts, every matcher hitting
// and missing, weighted and sticky splits, redirect and respond answers, the backend's rewrite
// template and response headers, a limit shared by both workers, warnings on a risky regex,
// ELB_TRUSTED_PROXIES, and elbctl drawing and setting the new types.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { branchOfKey } from "../../src-lua/core/rules/split";
import { Backend, Elb, Etcd, etcdctl, REPO_ROOT, request, startBackend, startElb, startEtcd, stopAll, waitFor } from "./harness";
import { App, startApp, stopServers } from "./servers";

let etcd: Etcd;
let elb: Elb;
let a: Backend;
let b: Backend;
let app: App;
let tmp: string;

const backend = (servername: string, extra: Record<string, unknown> = {}) => ({ type: "backend", args: { servername, ...extra } });
const respond = (body: string, status = 200) => ({ type: "respond", args: { status, body } });
/** a rule set whose init rule `rule` answers "hit" or "miss" */
const probe = (rule: { type: string; args: Record<string, unknown> }) => ({
  init: "m",
  rules: { m: { type: rule.type, args: { ...rule.args, succ: "hit", fail: "miss" } }, hit: respond("hit"), miss: respond("miss") },
});

async function put(domains: Record<string, unknown>) {
  const r = await elb.api("PUT", "domain", domains);
  expect(r.status, r.body).toBe(200);
  return r;
}

function get(host: string, path = "/", headers: Record<string, string> = {}, method = "GET") {
  return elb.request({ path, method, headers: { Host: host, ...headers } });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** n GET requests, `parallel` at a time over keepalive connections; the answers' bodies. */
async function many(n: number, parallel: number, host: string, headers: (i: number) => Record<string, string> = () => ({})): Promise<string[]> {
  const out: string[] = [];
  let next = 0;
  const one = (i: number) =>
    new Promise<string>((res, rej) => {
      const req = http.request({ host: "127.0.0.1", port: elb.port, path: "/", agent, headers: { Host: host, ...headers(i) } }, (r) => {
        let body = "";
        r.on("data", (d) => (body += d));
        r.on("end", () => res(body));
        r.on("error", rej);
      });
      req.on("error", rej);
      req.end();
    });
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await one(i);
      }
    }),
  );
  return out;
}

beforeAll(async () => {
  etcd = await startEtcd();
  a = await startBackend("A");
  b = await startBackend("B");
  app = await startApp("APP");
  // requests of the tests come from 127.0.0.1: their X-Forwarded-For is believed
  elb = await startElb({ etcd: etcd.endpoint, workers: 2, env: { ELB_TRUSTED_PROXIES: "127.0.0.1/32, ::1" } });
  await elb.waitLoaded();
  const r = await elb.api("PUT", "upstream", { upA: { [a.addr]: "" }, upB: { [b.addr]: "" }, upApp: { [app.addr]: "" } });
  expect(r.status).toBe(200);
  tmp = mkdtempSync(join(tmpdir(), "elb-routing-v2-"));
});

afterAll(async () => {
  agent.destroy();
  await stopServers();
  await stopAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("hosts: exact, wildcard, default", () => {
  it("an exact name beats any wildcard, the most specific wildcard wins, * takes the rest", async () => {
    const sets = {
      "api.example.test": { init: "r", rules: { r: respond("exact") } },
      "*.example.test": { init: "r", rules: { r: respond("wildcard") } },
      "*.b.example.test": { init: "r", rules: { r: respond("specific") } },
      "*": { init: "r", rules: { r: respond("default") } },
    };
    await put(sets);
    const cases: [string, string][] = [
      ["api.example.test", "exact"],
      ["API.Example.Test:8080", "exact"],
      ["x.example.test", "wildcard"],
      ["deep.x.y.example.test", "wildcard"],
      ["b.example.test", "wildcard"], // *.b.example.test needs a label below b
      ["a.b.example.test", "specific"],
      ["c.a.b.example.test", "specific"],
      ["example.test", "default"], // a wildcard does not match its own apex
      ["other.test", "default"],
      ["10.1.2.3", "default"],
    ];
    for (const [host, want] of cases) {
      const r = await get(host);
      expect(r.body, host).toBe(want);
    }
    const stored = (await elb.api("GET", "domain")).json;
    for (const [name, rs] of Object.entries(sets)) expect(stored[name]).toEqual(rs);
  });

  it("removing a wildcard or the default takes effect at once", async () => {
    expect((await elb.api("DELETE", "domain", ["*.b.example.test"])).status).toBe(200);
    expect((await get("a.b.example.test")).body).toBe("wildcard");
    expect((await elb.api("DELETE", "domain", ["*"])).status).toBe(200);
    const r = await get("other.test");
    expect(r.status).toBe(404);
    expect(r.json.msg).toBe("no rule set for this domain");
  });

  it("refuses names with * anywhere but a whole first label, and ports", async () => {
    const r = await elb.api("PUT", "domain", { "a.*.test": { init: "r", rules: { r: respond("x") } }, "x.test:80": { init: "r", rules: { r: respond("x") } } });
    expect(r.status).toBe(400);
    expect(r.json.errors.map((e: any) => e.path).sort()).toEqual(["/a.*.test", "/x.test:80"]);
  });
});

describe("matchers, each hitting and missing", () => {
  beforeAll(async () => {
    await put({
      "header.test": probe({ type: "header", args: { name: "X-Canary", pattern: "yes" } }),
      "header-re.test": probe({ type: "header", args: { name: "X-Version", pattern: "^v(\\d+)$", regex: true } }),
      "cookie.test": probe({ type: "cookie", args: { name: "uid", pattern: "^u[0-9]+$", regex: true } }),
      "query.test": probe({ type: "query", args: { name: "v", pattern: "a b" } }),
      "method.test": probe({ type: "method", args: { methods: ["POST", "PUT"] } }),
      "ip.test": probe({ type: "ip", args: { cidrs: ["10.0.0.0/8", "2001:db8::/32"] } }),
      "ip-local.test": probe({ type: "ip", args: { cidrs: ["127.0.0.1/32"] } }),
      "http.test": probe({ type: "scheme", args: { scheme: "http" } }),
      "https.test": probe({ type: "scheme", args: { scheme: "https" } }),
    });
  });

  const expectBody = async (host: string, want: string, path = "/", headers: Record<string, string> = {}, method = "GET") => {
    const r = await get(host, path, headers, method);
    expect(r.status, `${method} ${host}${path} ${JSON.stringify(headers)}`).toBe(200);
    expect(r.body, `${method} ${host}${path} ${JSON.stringify(headers)}`).toBe(want);
  };

  it("header: exact value, regex, absent", async () => {
    await expectBody("header.test", "hit", "/", { "X-Canary": "yes" });
    await expectBody("header.test", "miss", "/", { "X-Canary": "yes please" });
    await expectBody("header.test", "miss");
    await expectBody("header-re.test", "hit", "/", { "X-Version": "v12" });
    await expectBody("header-re.test", "miss", "/", { "X-Version": "12" });
  });

  it("cookie: among others, wrong value, none", async () => {
    await expectBody("cookie.test", "hit", "/", { Cookie: "a=1; uid=u42; b=2" });
    await expectBody("cookie.test", "miss", "/", { Cookie: "uid=x42" });
    await expectBody("cookie.test", "miss", "/", { Cookie: "other=u42" });
    await expectBody("cookie.test", "miss");
  });

  it("query: the URL-decoded value", async () => {
    await expectBody("query.test", "hit", "/?v=a%20b");
    await expectBody("query.test", "hit", "/?x=1&v=a+b");
    await expectBody("query.test", "miss", "/?v=ab");
    await expectBody("query.test", "miss", "/?v");
    await expectBody("query.test", "miss", "/");
  });

  it("method", async () => {
    await expectBody("method.test", "hit", "/", {}, "POST");
    await expectBody("method.test", "hit", "/", {}, "PUT");
    await expectBody("method.test", "miss", "/", {}, "GET");
  });

  it("ip: the client address, from a trusted proxy's X-Forwarded-For", async () => {
    await expectBody("ip.test", "hit", "/", { "X-Forwarded-For": "10.1.2.3" });
    await expectBody("ip.test", "hit", "/", { "X-Forwarded-For": "2001:db8::5" });
    await expectBody("ip.test", "miss", "/", { "X-Forwarded-For": "192.168.1.1" });
    // the last address that is not a trusted proxy is the client
    await expectBody("ip.test", "miss", "/", { "X-Forwarded-For": "10.1.2.3, 192.168.1.1" });
    await expectBody("ip.test", "hit", "/", { "X-Forwarded-For": "192.168.1.1, 10.1.2.3, 127.0.0.1" });
    await expectBody("ip.test", "miss");
    await expectBody("ip-local.test", "hit");
    await expectBody("ip-local.test", "miss", "/", { "X-Forwarded-For": "10.1.2.3" });
  });

  it("scheme: http on the HTTP listener (https on the HTTPS one: tls.test.ts)", async () => {
    await expectBody("http.test", "hit");
    await expectBody("https.test", "miss");
  });

  it("the backend sees the client found and the proxy it came through", async () => {
    await put({ "xff.test": { init: "b", rules: { b: backend("upA") } } });
    const r = await get("xff.test", "/", { "X-Forwarded-For": "10.9.8.7" });
    expect(r.json.headers["x-real-ip"]).toBe("10.9.8.7");
    expect(r.json.headers["x-forwarded-for"]).toBe("10.9.8.7, 127.0.0.1");
    const direct = await get("xff.test");
    expect(direct.json.headers["x-forwarded-for"]).toBe("127.0.0.1");
  });

  it("the admin API allows the client found, not the proxy it came through", async () => {
    const r = await elb.request({ path: "/__erulb__/status", headers: { "X-Forwarded-For": "10.9.8.7" } });
    expect(r.status).toBe(403);
    expect(r.json.msg).toBe("forbidden: 10.9.8.7 is not in ELB_ADMIN_ALLOW");
    expect((await elb.request({ path: "/__erulb__/status", headers: { "X-Forwarded-For": "127.0.0.5" } })).status).toBe(200);
  });
});

describe("split", () => {
  it("95/5 at random: shares within 1.5% over 4000 requests", async () => {
    await put({ "split.test": { init: "s", rules: { s: { type: "split", args: { branches: [{ weight: 95, next: "a" }, { weight: 5, next: "b" }] } }, a: backend("upA"), b: backend("upB") } } });
    const n = 4000;
    const bodies = await many(n, 8, "split.test");
    const toB = bodies.filter((x) => JSON.parse(x).backend === "B").length;
    expect(toB + bodies.filter((x) => JSON.parse(x).backend === "A").length).toBe(n);
    expect(Math.abs(toB / n - 0.05)).toBeLessThanOrEqual(0.015);
  });

  it("sticky by cookie: a client keeps its branch, the one core's hash gives it", async () => {
    await put({
      "sticky.test": {
        init: "s",
        rules: { s: { type: "split", args: { hash_on: "cookie:uid", branches: [{ weight: 95, next: "a" }, { weight: 5, next: "b" }] } }, a: backend("upA"), b: backend("upB") },
      },
    });
    const clients = 300;
    const seen = new Map<string, Set<string>>();
    const bodies = await many(clients * 3, 8, "sticky.test", (i) => ({ Cookie: `uid=user-${i % clients}` }));
    bodies.forEach((x, i) => {
      const uid = `user-${i % clients}`;
      if (!seen.has(uid)) seen.set(uid, new Set());
      seen.get(uid)!.add(JSON.parse(x).backend);
    });
    let canary = 0;
    for (const [uid, backends] of seen) {
      expect(backends.size, uid).toBe(1);
      const want = branchOfKey([95, 100], 100, uid) === 0 ? "A" : "B";
      expect([...backends][0], uid).toBe(want);
      if (want === "B") canary++;
    }
    expect(canary).toBeGreaterThan(0);
    expect(canary).toBeLessThan(clients * 0.15);
    // without the cookie: the client's address
    const noCookie = new Set((await many(20, 4, "sticky.test", () => ({ "X-Forwarded-For": "10.20.30.40" }))).map((x) => JSON.parse(x).backend));
    expect([...noCookie]).toEqual([branchOfKey([95, 100], 100, "10.20.30.40") === 0 ? "A" : "B"]);
  });
});

describe("answers ELB gives itself", () => {
  it("respond: status, body, type, headers, length", async () => {
    await put({
      "maint.test": { init: "r", rules: { r: { type: "respond", args: { status: 503, body: "<h1>back soon</h1>", content_type: "text/html", headers: { "Retry-After": "120" } } } } },
      "health.test": { init: "r", rules: { r: { type: "respond", args: { status: 200, body: "ok\n" } } } },
      "empty.test": { init: "r", rules: { r: { type: "respond", args: { status: 204 } } } },
    });
    const m = await get("maint.test", "/any/path");
    expect(m.status).toBe(503);
    expect(m.body).toBe("<h1>back soon</h1>");
    expect(m.headers["content-type"]).toBe("text/html");
    expect(m.headers["retry-after"]).toBe("120");
    expect(m.headers["content-length"]).toBe(String("<h1>back soon</h1>".length));
    const h = await get("health.test");
    expect([h.status, h.body, h.headers["content-type"]]).toEqual([200, "ok\n", "text/plain; charset=utf-8"]);
    const e = await get("empty.test");
    expect([e.status, e.body]).toEqual([204, ""]);
  });

  it("redirect: the template's variables and captures", async () => {
    await put({
      "redir.test": { init: "r", rules: { r: { type: "redirect", args: { status: 301, location: "https://$host$request_uri" } } } },
      "moved.test": {
        init: "p",
        rules: {
          p: { type: "path", args: { pattern: "^/old/(.*)$", regex: true, succ: "go", fail: "b" } },
          go: { type: "redirect", args: { status: 308, location: "/new/$1$is_args$args" } },
          b: backend("upA"),
        },
      },
    });
    const r = await get("redir.test", "/a/b?x=1");
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe("https://redir.test/a/b?x=1");
    const m = await get("moved.test", "/old/thing?q=1");
    expect(m.status).toBe(308);
    expect(m.headers.location).toBe("/new/thing?q=1");
    // $1 comes from the decoded path: a space is encoded again
    expect((await get("moved.test", "/old/a%20b")).headers.location).toBe("/new/a%20b");
    expect((await get("moved.test", "/other")).json.backend).toBe("A");
    const statuses: Record<string, unknown> = {};
    for (const status of [301, 302, 303, 307, 308]) statuses[`s${status}.test`] = { init: "r", rules: { r: { type: "redirect", args: { status, location: "/x" } } } };
    statuses["default.redir.test"] = { init: "r", rules: { r: { type: "redirect", args: { location: "http://elsewhere.test/" } } } };
    await put(statuses);
    for (const status of [301, 302, 303, 307, 308]) {
      const x = await get(`s${status}.test`);
      expect([x.status, x.headers.location]).toEqual([status, "/x"]);
    }
    const d = await get("default.redir.test");
    expect([d.status, d.headers.location]).toEqual([302, "http://elsewhere.test/"]);
  });
});

describe("the backend's rewrite and response headers", () => {
  it("rewrites the path from the last regex's captures, keeping the query string", async () => {
    await put({
      "rw2.test": {
        init: "u",
        rules: {
          u: { type: "ua", args: { pattern: "client/(\\d+)", succ: "p", fail: "p" } },
          p: { type: "path", args: { pattern: "^/api/(.*)$", regex: true, succ: "b", fail: "plain" } },
          b: backend("upA", { rewrite: "/v2/$1" }),
          plain: backend("upA", { rewrite: "/legacy$uri" }),
        },
      },
      "rwua.test": {
        init: "u",
        rules: { u: { type: "ua", args: { pattern: "client/(\\d+)", succ: "b", fail: "b" } }, b: backend("upA", { rewrite: "/by-version/$1/" }) },
      },
    });
    expect((await get("rw2.test", "/api/users/7?x=1&y=2", { "User-Agent": "client/3" })).json.url).toBe("/v2/users/7?x=1&y=2");
    expect((await get("rw2.test", "/web/page?k=v")).json.url).toBe("/legacy/web/page?k=v");
    expect((await get("rwua.test", "/x", { "User-Agent": "client/42" })).json.url).toBe("/by-version/42/");
    // no regex matched: the captures are empty, not the previous request's
    expect((await get("rwua.test", "/x", { "User-Agent": "curl" })).json.url).toBe("/by-version//");
  });

  it("sets, replaces and removes response headers", async () => {
    await put({ "resp.test": { init: "b", rules: { b: backend("upApp", { set_response_headers: { "X-Served-By": "elb", "Content-Type": "text/x-test", "Set-Cookie": "" } }) } } });
    const r = await get("resp.test", "/page");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).backend).toBe("APP");
    expect(r.headers["x-served-by"]).toBe("elb");
    expect(r.headers["content-type"]).toBe("text/x-test");
    expect(r.headers["set-cookie"]).toBeUndefined();
    // other domains keep the server's headers
    await put({ "plainresp.test": { init: "b", rules: { b: backend("upApp") } } });
    const p = await get("plainresp.test", "/page");
    expect(p.headers["set-cookie"]).toEqual(["app=1; Path=/"]);
    expect(p.headers["x-served-by"]).toBeUndefined();
  });

  it("such a backend answers like any other when its upstream fails: the JSON 502, the request's path and headers", async () => {
    const gone = await startBackend("GONE");
    expect((await elb.api("PUT", "upstream", { upGone: { [gone.addr]: "" } })).status).toBe(200);
    await gone.kill();
    await put({
      "respdead.test": { init: "b", rules: { b: backend("upGone", { set_response_headers: { "X-Served-By": "elb" } }) } },
      "respfull.test": { init: "p", rules: { p: { type: "path", args: { pattern: "^/in/(.*)$", regex: true, succ: "b" } }, b: backend("upA", { rewrite: "/out/$1", "X-Env": "blue", set_response_headers: { "X-Served-By": "elb" } }) } },
    });
    const r = await get("respdead.test");
    expect(r.status).toBe(502);
    expect(r.json).toEqual({ msg: "no server of the upstream could answer", upstream: "upGone" });
    const ok = await get("respfull.test", "/in/x?y=1", {}, "POST");
    expect([ok.status, ok.json.backend, ok.json.method, ok.json.url, ok.json.headers["x-env"], ok.headers["x-served-by"]]).toEqual([200, "A", "POST", "/out/x?y=1", "blue", "elb"]);
  });
});

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function onConnection(conn: http.Agent, host: string, path = "/"): Promise<Answer> {
  return new Promise((res, rej) => {
    const req = http.request({ host: "127.0.0.1", port: elb.port, path, agent: conn, headers: { Host: host } }, (r) => {
      let body = "";
      r.on("data", (d) => (body += d));
      r.on("end", () => res({ status: r.statusCode ?? 0, body, headers: r.headers }));
    });
    req.on("error", rej);
    req.end();
  });
}

/** Two agents of one keepalive connection each, served by the two workers. */
async function connectionPerWorker(): Promise<http.Agent[]> {
  const found = new Map<number, http.Agent>();
  for (let tries = 0; tries < 200 && found.size < 2; tries++) {
    const conn = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const pid = JSON.parse((await onConnection(conn, "127.0.0.1", "/__erulb__/status")).body).answered_by.pid;
    if (found.has(pid)) conn.destroy();
    else found.set(pid, conn);
  }
  expect(found.size).toBe(2);
  return [...found.values()];
}

describe("limit", () => {
  it("10/s: 429 past it, counted across both workers", async () => {
    await put({
      "limit.test": {
        init: "l",
        rules: {
          l: { type: "limit", args: { rate: 10, per: "second", succ: "ok", fail: "too" } },
          ok: backend("upA"),
          too: { type: "respond", args: { status: 429, body: "slow down", headers: { "Retry-After": "1" } } },
        },
      },
    });
    // one keepalive connection on each worker (the admin API says which one answers a connection)
    const byWorker = await connectionPerWorker();
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => onConnection(byWorker[i % 2], "limit.test")));
    const elapsed = (Date.now() - t0) / 1000;
    for (const c of byWorker) c.destroy();
    const passed = rs.filter((r) => r.status === 200).length;
    const limited = rs.filter((r) => r.status === 429);
    expect(passed + limited.length).toBe(40);
    // 10 at once, then 10 per second; counted per worker it would be about 20
    expect(passed).toBeGreaterThanOrEqual(10);
    expect(passed).toBeLessThanOrEqual(10 + Math.ceil(elapsed * 10) + 1);
    expect(limited[0].body).toBe("slow down");
    expect(limited[0].headers["retry-after"]).toBe("1");
    // refilled at the rate
    await new Promise((r) => setTimeout(r, 1100));
    const again = await Promise.all(Array.from({ length: 10 }, () => get("limit.test")));
    expect(again.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(9);
  });

  it("per key: each API key has its own bucket", async () => {
    await put({
      "keyed.test": {
        init: "l",
        rules: { l: { type: "limit", args: { rate: 3, per: "minute", key: "header:X-Api-Key", succ: "ok", fail: "too" } }, ok: backend("upA"), too: respond("limited", 429) },
      },
    });
    const statuses = async (key: string) => (await Promise.all(Array.from({ length: 5 }, () => get("keyed.test", "/", { "X-Api-Key": key })))).map((r) => r.status).sort();
    expect(await statuses("k1")).toEqual([200, 200, 200, 429, 429]);
    expect(await statuses("k2")).toEqual([200, 200, 200, 429, 429]);
  });
});

describe("validation through the API", () => {
  it("refuses invalid new rules with JSON pointers", async () => {
    const r = await elb.api("PUT", "domain", {
      "bad.test": { init: "s", rules: { s: { type: "split", args: { branches: [{ weight: 1, next: "nope" }] } }, l: { type: "limit", args: { rate: 0 } } } },
    });
    expect(r.status).toBe(400);
    expect(r.json.errors).toEqual([
      { path: "/bad.test/rules/l/args/rate", error: "must be a whole number from 1 to 1000000, got 0" },
      { path: "/bad.test/rules/s/args/branches/0/next", error: 'names no rule: "nope"' },
    ]);
  });

  it("accepts a regex with nested unbounded quantifiers, with a warning", async () => {
    const r = await elb.api("PUT", "domain", { "risky.test": { init: "u", rules: { u: { type: "ua", args: { pattern: "(a+)+$", succ: "b", fail: "b" } }, b: backend("upA") } } });
    expect(r.status).toBe(200);
    expect(r.json.msg).toBe("OK");
    expect(r.json.warnings).toHaveLength(1);
    expect(r.json.warnings[0].path).toBe("/risky.test/rules/u/args/pattern");
    expect(r.json.warnings[0].warning).toMatch(/^\(a\+\)\+: nested unbounded quantifiers/);
    expect((await get("risky.test")).json.backend).toBe("A");
  });
});

describe("a node without trusted proxies, with strict regex checks", () => {
  let plain: Elb;
  beforeAll(async () => {
    plain = await startElb({ etcd: etcd.endpoint, elbName: "PLAIN", workers: 2, env: { ELB_REGEX_STRICT: "1" } });
    await plain.waitLoaded();
    expect((await plain.api("PUT", "upstream", { upA: { [a.addr]: "" } })).status).toBe(200);
  });

  it("ignores X-Forwarded-For from an untrusted peer", async () => {
    expect((await plain.api("PUT", "domain", { "ip.test": probe({ type: "ip", args: { cidrs: ["10.0.0.0/8"] } }), "xff.test": { init: "b", rules: { b: backend("upA") } } })).status).toBe(200);
    expect((await plain.request({ path: "/", headers: { Host: "ip.test", "X-Forwarded-For": "10.1.2.3" } })).body).toBe("miss");
    const r = await plain.request({ path: "/", headers: { Host: "xff.test", "X-Forwarded-For": "10.1.2.3" } });
    expect(r.json.headers["x-real-ip"]).toBe("127.0.0.1");
    expect(r.json.headers["x-forwarded-for"]).toBe("10.1.2.3, 127.0.0.1");
  });

  it("refuses nested unbounded quantifiers", async () => {
    const r = await plain.api("PUT", "domain", { "risky.test": { init: "u", rules: { u: { type: "ua", args: { pattern: "(a+)+$", succ: "b" } }, b: backend("upA") } } });
    expect(r.status).toBe(400);
    expect(r.json.errors[0].path).toBe("/risky.test/rules/u/args/pattern");
    expect(r.json.errors[0].error).toMatch(/refused: strict regex checks are on/);
    // the same value written to etcd by hand is skipped, and listed
    await etcdctl(etcd.endpoint, "put", "/PLAIN/rules/hand.test", JSON.stringify({ init: "u", rules: { u: { type: "ua", args: { pattern: "(a+)+$", succ: "b" } }, b: backend("upA") } }));
    const invalid = await waitFor(async () => (await plain.api("GET", "status")).json.invalid_keys["/PLAIN/rules/hand.test"], 5000, "the hand-written value to be refused");
    expect(invalid.error).toMatch(/^\(a\+\)\+: nested unbounded quantifiers.*refused: strict regex checks are on/);
    expect((await plain.request({ path: "/", headers: { Host: "hand.test" } })).status).toBe(404);
  });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function elbctl(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, "admin-cli/bin/elbctl.mjs"), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ETCD: etcd.endpoint, ELBNAME: "CTL", NO_COLOR: "1", ELB_REGEX_STRICT: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => res({ code, stdout, stderr }));
  });
}

describe("elbctl", () => {
  const everyType = {
    init: "host",
    rules: {
      host: { type: "header", args: { name: "X-Canary", pattern: "yes", succ: "sp", fail: "ck" } },
      ck: { type: "cookie", args: { name: "beta", pattern: "1", succ: "sp", fail: "q" } },
      q: { type: "query", args: { name: "debug", pattern: "^on$", regex: true, succ: "m", fail: "m" } },
      m: { type: "method", args: { methods: ["GET", "HEAD"], succ: "net", fail: "too" } },
      net: { type: "ip", args: { cidrs: ["10.0.0.0/8", "fd00::/8"], succ: "sch", fail: "lim" } },
      sch: { type: "scheme", args: { scheme: "https", succ: "lim", fail: "go" } },
      lim: { type: "limit", args: { rate: 10, per: "second", burst: 5, succ: "sp", fail: "too" } },
      sp: { type: "split", args: { hash_on: "cookie:uid", branches: [{ weight: 95, next: "stable" }, { weight: 5, next: "canary" }] } },
      go: { type: "redirect", args: { status: 301, location: "https://$host$request_uri" } },
      too: { type: "respond", args: { status: 429, body: "slow down" } },
      stable: backend("stable", { rewrite: "/v2$uri", set_response_headers: { "X-Served-By": "elb" } }),
      canary: backend("canary"),
    },
  };

  it("graph draws every rule type, as a tree, dot and svg", async () => {
    const f = join(tmp, "every.json");
    writeFileSync(f, JSON.stringify(everyType));
    const set = await elbctl(["domain", "set", "every.test", "-f", f]);
    expect(set.code, set.stderr).toBe(0);
    const tree = await elbctl(["graph", "every.test"]);
    expect(tree.code, tree.stderr).toBe(0);
    for (const text of [
      "host header X-Canary == yes",
      "cookie beta == 1",
      "query debug ~ ^on$",
      "method GET|HEAD",
      "ip in 10.0.0.0/8, fd00::/8",
      "scheme https",
      "limit 10/second, burst 5 per remote_addr",
      "under -> sp split sticky by cookie:uid",
      "over -> too respond 429",
      "95 (95%) -> stable backend -> stable rewrite /v2$uri answer [X-Served-By: elb]",
      "5 (5%) -> canary backend -> canary",
      "go redirect 301 -> https://$host$request_uri",
    ]) expect(tree.stdout).toContain(text);
    const dot = await elbctl(["graph", "every.test", "--format", "dot"]);
    expect(dot.stdout).toContain('"sp" -> "stable" [label="95 (95%)"');
    expect(dot.stdout).toContain('"lim" -> "too" [label="over"');
    const svg = await elbctl(["graph", "every.test", "--format", "svg"]);
    for (const r of Object.keys(everyType.rules)) expect(svg.stdout).toContain(`>${r}</text>`);
    const json = JSON.parse((await elbctl(["graph", "every.test", "--json"])).stdout);
    expect(json.nodes.find((n: any) => n.name === "sp").branches).toEqual([
      { weight: "95 (95%)", next: "stable" },
      { weight: "5 (5%)", next: "canary" },
    ]);
  });

  it("domain set validates with the engine's code and prints warnings; --strict refuses", async () => {
    const f = join(tmp, "risky.json");
    writeFileSync(f, JSON.stringify({ init: "u", rules: { u: { type: "ua", args: { pattern: "(a+)+$", succ: "b" } }, b: backend("up") } }));
    const warned = await elbctl(["domain", "set", "risky.test", "-f", f]);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toContain("elbctl: warning: /CTL/rules/risky.test /rules/u/args/pattern: (a+)+: nested unbounded quantifiers");
    const strict = await elbctl(["domain", "set", "risky2.test", "-f", f, "--strict"]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain("nothing written");
    expect(strict.stderr).toContain("/rules/u/args/pattern: (a+)+: nested unbounded quantifiers");
    const bad = join(tmp, "bad.json");
    writeFileSync(bad, JSON.stringify({ init: "s", rules: { s: { type: "split", args: { branches: [] } } } }));
    const refused = await elbctl(["domain", "set", "bad.test", "-f", bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("/CTL/rules/bad.test /rules/s/args/branches: branches must not be empty");
    const got = await request({ port: elb.port, path: "/__erulb__/status" });
    expect(got.status).toBe(200);
  });
  it("apply prints the same warnings for a whole file; --strict refuses it", async () => {
    const f = join(tmp, "risky.yaml");
    writeFileSync(f, JSON.stringify({ domains: { "risky-file.test": { init: "u", rules: { u: { type: "ua", args: { pattern: "(a+)+$", succ: "b" } }, b: backend("up") } } } }));
    const warned = await elbctl(["apply", "-f", f]);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toContain("elbctl: warning: " + f + " /domains/risky-file.test/rules/u/args/pattern (key /CTL/rules/risky-file.test): (a+)+: nested unbounded quantifiers");
    const strict = await elbctl(["apply", "-f", f, "--strict", "--prune"]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain("is invalid, nothing written");
  });
});
