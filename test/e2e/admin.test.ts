// The management API's edges: validation (400 with every problem, nothing changed, the old
// state still serving), DELETEs, methods, etcd down (503), and who may call it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, etcdctl, startBackend, startElb, startEtcd, stopAll } from "./harness";
import { configRevisions as revisionsIn } from "./etcd-keys";

let etcd: Etcd;
let elb: Elb;
let a: Backend;

const backendRules = (up: string) => ({ init: "b", rules: { b: { type: "backend", args: { servername: up } } } });

async function admin(method: string, resource: string, body?: unknown) {
  return elb.request({ method, path: `/__erulb__/${resource}`, body });
}

async function etcdKeys(prefix: string): Promise<string[]> {
  const out = (await etcdctl(etcd.endpoint, "get", "--prefix", "--keys-only", prefix)).stdout;
  return out.split("\n").filter((l) => l.trim() !== "");
}


beforeAll(async () => {
  etcd = await startEtcd();
  a = await startBackend("A");
  elb = await startElb({ etcd: etcd.endpoint, workers: 2 });
  expect((await admin("PUT", "upstream", { up1: { [a.addr]: "" } })).status).toBe(200);
  expect((await admin("PUT", "domain", { "app.test": backendRules("up1") })).status).toBe(200);
});

afterAll(stopAll);

describe("validation: 400, every problem and where, nothing changed", () => {
  const cases: { name: string; resource: string; body: unknown; errors: { path: string; error: RegExp | string }[] }[] = [
    { name: "malformed JSON", resource: "domain", body: '{"app.test": {"init": ', errors: [{ path: "", error: /^malformed JSON: / }] },
    { name: "an empty body", resource: "upstream", body: "", errors: [{ path: "", error: /request body is empty/ }] },
    {
      name: "an unknown rule type",
      resource: "domain",
      body: { "app.test": { init: "x", rules: { x: { type: "geo", args: {} } } } },
      errors: [{ path: "/app.test/rules/x/type", error: 'unknown rule type "geo" (known: ua, path, backend, header, cookie, query, method, ip, scheme, split, redirect, respond, limit)' }],
    },
    {
      name: "a missing init",
      resource: "domain",
      body: { "app.test": { rules: { b: { type: "backend", args: { servername: "up1" } } } } },
      errors: [{ path: "/app.test/init", error: "init is required: the name of the first rule" }],
    },
    {
      name: "succ, fail and init that name no rule",
      resource: "domain",
      body: { "app.test": { init: "nope", rules: { u: { type: "ua", args: { pattern: "x", succ: "gone", fail: "lost" } } } } },
      errors: [
        { path: "/app.test/init", error: 'names no rule: "nope"' },
        { path: "/app.test/rules/u/args/fail", error: 'names no rule: "lost"' },
        { path: "/app.test/rules/u/args/succ", error: 'names no rule: "gone"' },
      ],
    },
    {
      name: "a cycle",
      resource: "domain",
      body: { "app.test": { init: "a", rules: { a: { type: "path", args: { pattern: "/", succ: "b" } }, b: { type: "ua", args: { pattern: "x", fail: "a" } } } } },
      errors: [{ path: "/app.test/rules/b/args/fail", error: "creates a cycle: a -> b -> a" }],
    },
    {
      name: "an invalid regex",
      resource: "domain",
      body: { "app.test": { init: "p", rules: { p: { type: "path", args: { pattern: "^/(blog", regex: true } } } } },
      errors: [{ path: "/app.test/rules/p/args/pattern", error: /^invalid regex: pcre_compile\(\) failed: missing \)/ }],
    },
    {
      name: "a bad host:port",
      resource: "upstream",
      body: { up1: { "127.0.0.1:0": "", "no port": "" } },
      errors: [
        { path: "/up1/127.0.0.1:0", error: "invalid host:port: port must be a number from 1 to 65535" },
        { path: "/up1/no port", error: "invalid host:port: must be host:port" },
      ],
    },
    {
      name: "unknown and malformed server params",
      resource: "upstream",
      body: { up1: { [`127.0.0.1:1`]: "weight=0 colour=red", [`127.0.0.1:2`]: 5 } },
      errors: [
        { path: "/up1/127.0.0.1:1", error: "weight must be a whole number from 1 to 10000" },
        { path: "/up1/127.0.0.1:1", error: 'unknown server param "colour" (known: weight, max_fails, fail_timeout, slow_start, backup, drain, down)' },
        { path: "/up1/127.0.0.1:2", error: 'server params must be a string, e.g. "weight=10 max_fails=2"' },
      ],
    },
    {
      name: "a bad literal backend and a bad domain name, in one body with a valid domain",
      resource: "domain",
      body: { "ok.test": backendRules("up1"), "Bad.Test": backendRules("10.0.0.1:99999") },
      errors: [
        { path: "/Bad.Test", error: "domain must be lowercase (the Host header is matched lowercased)" },
        { path: "/Bad.Test/rules/b/args/servername", error: "invalid host:port: port must be a number from 1 to 65535" },
      ],
    },
    { name: "a DELETE body that is not a list", resource: "domain", body: { "app.test": true }, errors: [{ path: "", error: "expected an array of domain names, got an object" }] },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const before = await revisionsIn(etcd.endpoint);
      const method = c.name.startsWith("a DELETE") ? "DELETE" : "PUT";
      const r = await admin(method, c.resource, c.body);
      expect(r.status).toBe(400);
      expect(r.headers["content-type"]).toContain("application/json");
      expect(r.json.msg).toMatch(/^invalid request body/);
      expect(r.json.errors.length).toBe(c.errors.length);
      c.errors.forEach((e, i) => {
        expect(r.json.errors[i].path).toBe(e.path);
        if (typeof e.error === "string") expect(r.json.errors[i].error).toBe(e.error);
        else expect(r.json.errors[i].error).toMatch(e.error);
      });
      // nothing changed: the configuration in etcd, the API's view, and the traffic
      expect(await revisionsIn(etcd.endpoint)).toEqual(before);
      expect((await admin("GET", "domain")).json).toEqual({ "app.test": backendRules("up1") });
      expect((await admin("GET", "upstream")).json).toMatchObject({ up1: [{ addr: a.addr, name: a.addr, weight: 1, max_fails: 1, fail_timeout: 10 }] });
      const served = await elb.request({ path: "/", headers: { Host: "app.test" } });
      expect(served.status).toBe(200);
      expect(served.json.backend).toBe("A");
    });
  }
});

describe("methods and resources", () => {
  it("answers 405 with JSON and Allow for another method", async () => {
    const r = await admin("POST", "domain", {});
    expect(r.status).toBe(405);
    expect(r.json.msg).toContain("POST");
    expect(r.headers.allow).toBe("DELETE, GET, PUT");
    expect((await admin("GET", "dump")).status).toBe(405);
  });

  it("answers 404 with JSON for an unknown resource", async () => {
    const r = await admin("GET", "nothing");
    expect(r.status).toBe(404);
    expect(r.json.msg).toContain("/__erulb__/domain");
  });
});

describe("DELETE", () => {
  it("removes domains from etcd and from routing", async () => {
    await admin("PUT", "domain", { "gone1.test": backendRules("up1"), "gone2.test": backendRules("up1") });
    expect((await elb.request({ path: "/", headers: { Host: "gone1.test" } })).status).toBe(200);
    const r = await admin("DELETE", "domain", ["gone1.test", "gone2.test", "never-was.test"]);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ msg: "OK" });
    expect((await elb.request({ path: "/", headers: { Host: "gone1.test" } })).status).toBe(404);
    expect(await etcdKeys("/ELB/rules/")).toEqual(["/ELB/rules/app.test"]);
  });

  it("removes upstreams and says which existed", async () => {
    await admin("PUT", "upstream", { tmp1: { "127.0.0.1:9": "" }, tmp2: { "127.0.0.1:10": "", "127.0.0.1:11": "" } });
    const r = await admin("DELETE", "upstream", ["tmp1", "tmp2", "never"]);
    expect(r.json).toEqual({ tmp1: true, tmp2: true, never: false });
    expect(Object.keys((await admin("GET", "upstream")).json)).toEqual(["up1"]);
    expect(await etcdKeys("/ELB/upstreams/")).toEqual([`/ELB/upstreams/up1/${a.addr}`]);
  });

  it("PUT upstream replaces the server list: removed servers leave etcd", async () => {
    await admin("PUT", "upstream", { swap: { "127.0.0.1:20": "", "127.0.0.1:21": "" } });
    await admin("PUT", "upstream", { swap: { "127.0.0.1:21": "weight=2", "127.0.0.1:22": "" } });
    expect(await etcdKeys("/ELB/upstreams/swap/")).toEqual(["/ELB/upstreams/swap/127.0.0.1:21", "/ELB/upstreams/swap/127.0.0.1:22"]);
    const got = (await admin("GET", "upstream")).json.swap;
    expect(got.map((s: any) => [s.addr, s.weight])).toEqual([["127.0.0.1:21", 2], ["127.0.0.1:22", 1]]);
    await admin("DELETE", "upstream", ["swap"]);
  });
});

describe("etcd unreachable", () => {
  it("a hung etcd: 504, outcome unknown, then etcd decides; etcd down: 503, nothing changes, keeps serving", async () => {
    // A hung etcd takes the request and does not answer: whether it applies it later is
    // unknown, so the answer says so, and the node then serves whatever etcd decided.
    etcd.kill("SIGSTOP");
    try {
      const r = await admin("PUT", "domain", { "hung.test": backendRules("up1") });
      expect(r.status).toBe(504);
      expect(r.json.msg).toMatch(/outcome of the change is unknown: etcd unreachable: .* may have been applied/);
    } finally {
      etcd.kill("SIGCONT");
    }
    const inEtcd = async () => (await etcdKeys("/ELB/rules/")).map((k) => k.slice("/ELB/rules/".length)).sort();
    await expect.poll(async () => Object.keys((await admin("GET", "domain")).json).sort().join() === (await inEtcd()).join(), { timeout: 10_000 }).toBe(true);
    const before = (await admin("GET", "domain")).json;
    expect(before["app.test"]).toEqual(backendRules("up1"));

    await etcd.stop();
    try {
      const r = await admin("PUT", "upstream", { up1: { "127.0.0.1:30": "" } });
      expect(r.status).toBe(503);
      expect(r.json.msg).toMatch(/the change was not written: etcd unreachable/);
      const d = await admin("DELETE", "domain", ["app.test"]);
      expect(d.status).toBe(503);
      expect((await admin("GET", "domain")).json).toEqual(before);
      expect((await elb.request({ path: "/", headers: { Host: "app.test" } })).json.backend).toBe("A");
      expect((await admin("GET", "status")).json.etcd).toMatch(/etcd unreachable/);
    } finally {
      await etcd.restart();
    }
    const ok = await admin("PUT", "domain", { "new.test": backendRules("up1") });
    expect(ok.status).toBe(200);
    expect((await admin("GET", "status")).json.etcd).toBe("connected");
  }, 60_000);
});

describe("who may call the API", () => {
  it("requires the token when ELB_ADMIN_TOKEN is set", async () => {
    const guarded = await startElb({ etcd: etcd.endpoint, elbName: "GUARDED", env: { ELB_ADMIN_TOKEN: "s3cret" } });
    const none = await guarded.request({ path: "/__erulb__/domain" });
    expect(none.status).toBe(403);
    expect(none.json.msg).toMatch(/Bearer/);
    const wrong = await guarded.request({ path: "/__erulb__/domain", headers: { Authorization: "Bearer nope" } });
    expect(wrong.status).toBe(403);
    const right = await guarded.request({ path: "/__erulb__/domain", headers: { Authorization: "Bearer s3cret" } });
    expect(right.status).toBe(200);
    await guarded.stop();
  });

  it("refuses callers outside ELB_ADMIN_ALLOW", async () => {
    const fenced = await startElb({ etcd: etcd.endpoint, elbName: "FENCED", env: { ELB_ADMIN_ALLOW: "10.0.0.0/8" } });
    const r = await fenced.request({ method: "PUT", path: "/__erulb__/domain", body: { "x.test": backendRules("up1") } });
    expect(r.status).toBe(403);
    expect(r.json.msg).toContain("127.0.0.1");
    expect(await etcdKeys("/FENCED/rules/")).toEqual([]);
    await fenced.stop();
  });
});
