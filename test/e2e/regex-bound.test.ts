// Issue 17 end to end: a rule regex that backtracks without bound ((a+)+$ against 30 "a" and a
// "b") costs each request at most the match limit (lua_regex_match_limit, rendered from
// ELB_REGEX_MATCH_LIMIT). 30 s of such requests from another process keep the node's other
// domains at their normal latency (p99 within 2x of the same traffic without the attack, measured
// before and after it); every attacking request gets the rule's fail branch, the node counts
// them per domain in /__erulb__/status and logs it once per rule per minute at most.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, REPO_ROOT, startBackend, startElb, startEtcd, stopAll } from "./harness";

let etcd: Etcd;
let elb: Elb;
let a: Backend;
let b: Backend;

const ATTACK_UA = "a".repeat(30) + "b";
/** the attack: 8 connections, each sending a request every 40 ms (about 200 requests/s in all) */
const ATTACK = { connections: 8, gapMs: 40, seconds: 30 };

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function timedGet(host: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: "127.0.0.1", port: elb.port, path: "/api/item", agent, headers: { Host: host, ...headers } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`${host}: status ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The other domains' traffic for `ms`: 4 clients, a request every 10 ms each, half to each domain; the latencies (ms). */
async function ordinaryTraffic(ms: number): Promise<number[]> {
  const out: number[] = [];
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: 4 }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        out.push(await timedGet((c + i) % 2 === 0 ? "calm.test" : "graph.test", { "User-Agent": "bench-client/1.0" }));
        await new Promise((r) => setTimeout(r, 10));
      }
    }),
  );
  return out;
}

const quantile = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

function attacker(): Promise<{ requests: number; statuses: Record<string, number>; backends: Record<string, number>; p50_ms: number; p99_ms: number; max_ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, "test/e2e/regex-attacker.mjs"), String(elb.port), "attack.test", String(ATTACK.connections), String(ATTACK.gapMs), String(ATTACK.seconds)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`attacker exited ${code}: ${err}`))));
  });
}

beforeAll(async () => {
  etcd = await startEtcd();
  a = await startBackend("A");
  b = await startBackend("B");
  elb = await startElb({ etcd: etcd.endpoint, workers: 2 });
  await elb.waitLoaded();
  expect((await elb.api("PUT", "upstream", { upA: { [a.addr]: "" }, upB: { [b.addr]: "" } })).status).toBe(200);
  const put = await elb.api("PUT", "domain", {
    "attack.test": { init: "u", rules: { u: { type: "ua", args: { pattern: "(a+)+$", succ: "hit", fail: "miss" } }, hit: { type: "backend", args: { servername: "upA" } }, miss: { type: "backend", args: { servername: "upB" } } } },
    "calm.test": { init: "b", rules: { b: { type: "backend", args: { servername: "upA" } } } },
    "graph.test": {
      init: "ua",
      rules: {
        ua: { type: "ua", args: { pattern: "bench-client/(\\S+)$", succ: "path", fail: "other" } },
        path: { type: "path", args: { regex: true, pattern: "^/api/(\\S+)$", succ: "api", fail: "other" } },
        api: { type: "backend", args: { servername: "upA" } },
        other: { type: "backend", args: { servername: "upB" } },
      },
    },
    "paths.test": {
      init: "p",
      rules: {
        p: { type: "path", args: { regex: true, pattern: "^/(a+)+$", succ: "hit", fail: "h" } },
        h: { type: "header", args: { name: "X-Id", regex: true, pattern: "^(\\d+)*$", succ: "hit", fail: "miss" } },
        hit: { type: "backend", args: { servername: "upA" } },
        miss: { type: "backend", args: { servername: "upB" } },
      },
    },
  });
  expect(put.status, put.body).toBe(200);
  expect(put.json.warnings.map((w: { path: string }) => w.path)).toEqual(["/attack.test/rules/u/args/pattern", "/paths.test/rules/h/args/pattern", "/paths.test/rules/p/args/pattern"]);
});

afterAll(async () => {
  agent.destroy();
  await stopAll();
});

describe("the match limit", () => {
  it("renders lua_regex_match_limit into nginx.conf", () => {
    const conf = readFileSync(join(elb.prefix, "nginx.conf"), "utf8");
    expect(conf).toMatch(/^\s*lua_regex_match_limit 100000;$/m);
  });

  it("a match cut off by it is a miss, counted per domain: path and header regexes too", async () => {
    const before = (await elb.api("GET", "status")).json.regex_limit_hits["paths.test"] ?? 0;
    const path = "/" + "a".repeat(30) + "b";
    for (let i = 0; i < 3; i++) {
      const r = await elb.request({ path, headers: { Host: "paths.test", "X-Id": "1".repeat(30) + "x" } });
      expect(r.status).toBe(200);
      expect(r.json.backend).toBe("B");
    }
    // the path regex and the header regex both hit the limit on each request
    expect((await elb.api("GET", "status")).json.regex_limit_hits["paths.test"]).toBe(before + 6);
    // an ordinary near-miss is an ordinary miss, not counted
    const r = await elb.request({ path: "/aaab", headers: { Host: "paths.test", "X-Id": "12x" } });
    expect(r.json.backend).toBe("B");
    expect((await elb.api("GET", "status")).json.regex_limit_hits["paths.test"]).toBe(before + 6);
    expect((await elb.request({ path: "/aaaa", headers: { Host: "paths.test" } })).json.backend).toBe("A");
  });

  it(
    "30 s of (a+)+$ attack: the other domains keep their latency, the attack gets the fail branch, the counter shows it",
    async () => {
      // warm-up (JIT traces, keepalive connections)
      await ordinaryTraffic(2000);
      const before = await ordinaryTraffic(10000);
      const attack = attacker();
      const during = await ordinaryTraffic(ATTACK.seconds * 1000);
      const result = await attack;
      const after = await ordinaryTraffic(10000);
      const baseline = [...before, ...after];
      const p99Base = quantile(baseline, 0.99);
      const p99Attack = quantile(during, 0.99);
      console.log(
        `regex attack: ${result.requests} attacking requests in ${ATTACK.seconds} s (${Math.round(result.requests / ATTACK.seconds)}/s), each p50 ${result.p50_ms.toFixed(2)} ms, p99 ${result.p99_ms.toFixed(2)} ms, max ${result.max_ms.toFixed(1)} ms; ` +
          `other domains: p50 ${quantile(baseline, 0.5).toFixed(2)} -> ${quantile(during, 0.5).toFixed(2)} ms, p99 ${p99Base.toFixed(2)} -> ${p99Attack.toFixed(2)} ms (${before.length + after.length} and ${during.length} requests)`,
      );
      expect(result.statuses).toEqual({ "200": result.requests });
      expect(result.backends).toEqual({ B: result.requests });
      expect(result.requests).toBeGreaterThan(ATTACK.connections * ATTACK.seconds * 10);
      expect(p99Attack).toBeLessThanOrEqual(2 * p99Base);
      const status = (await elb.api("GET", "status")).json;
      expect(status.regex_limit_hits["attack.test"]).toBe(result.requests);
      expect(status.regex_limit_hits["calm.test"]).toBeUndefined();
      expect(status.regex_limit_hits["graph.test"]).toBeUndefined();
      const metrics = (await elb.request({ path: "/__erulb__/metrics" })).body;
      expect(metrics).toContain(`elb_regex_match_limit_hits_total{domain="attack.test"} ${result.requests}`);
      expect(metrics).not.toMatch(/elb_regex_match_limit_hits_total\{domain="calm\.test"\}/);
      // logged once for the rule in this minute, however many times it happened
      const lines = elb.errorLog().split("\n").filter((l) => l.includes("domain attack.test: rule u (ua): the regex (a+)+$ was cut off at the match limit"));
      expect(lines.length).toBe(1);
      expect(elb.errorLog()).not.toMatch(/\[(error|crit|alert|emerg)\].*attack\.test/);
    },
    120_000,
  );
});
