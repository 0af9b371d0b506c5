// elbctl against a real etcd and a real ELB: every command, register's lease (SIGTERM removes
// at once, SIGKILL within the TTL), switch atomic under concurrent readers, apply --dry-run
// writing nothing, export/apply round trip, invalid input rejected with nothing written.
// Each block uses its own ELBNAME so that blocks do not see each other's keys; the ELB reads
// the default "ELB".
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, etcdctl, freePort, REPO_ROOT, startBackend, startElb, startEtcd, stopAll, waitFor } from "./harness";

const BIN = join(REPO_ROOT, "admin-cli/bin/elbctl.mjs");
let etcd: Etcd;
let elb: Elb;
let a: Backend;
let b: Backend;
let c: Backend;
let tmp: string;
const children = new Set<ChildProcess>();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; out: () => string; err: () => string; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ETCD: etcd.endpoint, ELBNAME: "ELB", NO_COLOR: "1", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<Run>((res) =>
    child.on("close", (code) => {
      children.delete(child);
      res({ code, stdout, stderr });
    }),
  );
  return { child, out: () => stdout, err: () => stderr, done };
}

function elbctl(name: string, ...args: string[]): Promise<Run> {
  return start(args, { ELBNAME: name }).done;
}

async function ok(name: string, ...args: string[]): Promise<string> {
  const r = await elbctl(name, ...args);
  expect(r.code, `elbctl ${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

async function keys(prefix: string): Promise<Record<string, string>> {
  const out = (await etcdctl(etcd.endpoint, "get", "--prefix", prefix, "-w", "json")).stdout;
  const kvs: { key: string; value?: string }[] = JSON.parse(out).kvs ?? [];
  const dec = (s?: string) => Buffer.from(s ?? "", "base64").toString();
  return Object.fromEntries(kvs.map((kv) => [dec(kv.key), dec(kv.value)]));
}

/** Every key under `prefix` with its value and mod revision: equal snapshots mean nothing was written. */
async function snapshot(prefix: string): Promise<string> {
  const out = JSON.parse((await etcdctl(etcd.endpoint, "get", "--prefix", prefix, "-w", "json")).stdout);
  return JSON.stringify((out.kvs ?? []).map((kv: any) => [kv.key, kv.value, kv.mod_revision]));
}

function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

const backendRules = (up: string) => ({ init: "b", rules: { b: { type: "backend", args: { servername: up } } } });
const blogRules = {
  init: "r1",
  rules: {
    r1: { type: "ua", args: { pattern: "httpie(\\S+)$", succ: "r4", fail: "r3" } },
    r2: { type: "backend", args: { servername: "up1" } },
    r3: { type: "backend", args: { servername: "up2" } },
    r4: { type: "path", args: { regex: true, pattern: "^\\/blog\\/(\\S+)$", succ: "r2", fail: "r3", rewrite: false } },
  },
};

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "elbctl-e2e-"));
  etcd = await startEtcd();
  [a, b, c] = await Promise.all([startBackend("A"), startBackend("B"), startBackend("C")]);
  const port = await freePort();
  elb = await startElb({ etcd: etcd.endpoint, workers: 2, port, env: { ELB_ADVERTISE: `127.0.0.1:${port}`, ELB_NODE_ID: "node-1" } });
  await elb.waitLoaded();
});

afterAll(async () => {
  for (const ch of children) ch.kill("SIGKILL");
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
});

describe("help and errors", () => {
  it("--help lists every command, and each command has its own --help", async () => {
    const top = await ok("H", "--help");
    const cmds = ["domain ls", "domain get", "domain set", "domain rm", "upstream ls", "upstream get", "upstream set", "upstream rm", "server add", "server rm", "server drain", "server enable", "server offline", "switch", "register", "apply", "export", "status", "graph", "watch"];
    for (const cmd of cmds) expect(top).toContain(`  ${cmd} `);
    const helps = await Promise.all(cmds.map((cmd) => elbctl("H", ...cmd.split(" "), "--help")));
    helps.forEach((r, i) => {
      expect(r.code, cmds[i]).toBe(0);
      expect(r.stdout).toContain(`Usage: elbctl ${cmds[i]}`);
    });
  });

  it("names the etcd endpoints it tried, exits non-zero; usage errors exit 2", async () => {
    const [down, unknown, badOpt] = await Promise.all([
      start(["domain", "ls", "--timeout", "1"], { ETCD: "127.0.0.1:1,127.0.0.1:2" }).done,
      elbctl("H", "frobnicate"),
      elbctl("H", "domain", "ls", "--bogus"),
    ]);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain("cannot reach etcd at http://127.0.0.1:1, http://127.0.0.1:2");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect(badOpt.code).toBe(2);
    expect(badOpt.stderr).toContain("has no option --bogus");
  });
});

describe("colours", () => {
  it("only on a terminal, or with --color", async () => {
    await ok("C", "upstream", "set", "up1", "10.0.0.1:80");
    const [piped, forced] = await Promise.all([
      start(["upstream", "ls", "--no-health"], { ELBNAME: "C", NO_COLOR: "" }).done,
      elbctl("C", "upstream", "ls", "--no-health", "--color"),
    ]);
    expect(piped.stdout).toContain("UPSTREAM");
    expect(piped.stdout).not.toContain("\x1b[");
    expect(forced.stdout).toContain("\x1b[1mUPSTREAM");
  });
});

describe("domain", () => {
  it("set, get, ls, rm; an invalid rule set is refused naming the key and the field, nothing written", async () => {
    const rs = file("blog.json", JSON.stringify(blogRules));
    expect(await ok("D", "domain", "set", "app.test", "-f", rs)).toContain("set /D/rules/app.test");
    expect(JSON.parse((await keys("/D/rules/"))["/D/rules/app.test"])).toEqual(blogRules);
    expect(JSON.parse(await ok("D", "domain", "get", "app.test", "--json"))).toEqual(blogRules);
    const ls = await ok("D", "domain", "ls");
    expect(ls).toMatch(/app\.test\s+r1\s+4\s+up1,up2/);
    expect(JSON.parse(await ok("D", "domain", "ls", "--json"))).toEqual([{ domain: "app.test", init: "r1", rules: 4, upstreams: ["up1", "up2"], valid: true }]);

    const before = await snapshot("/D/");
    const bad = file("bad.json", JSON.stringify({ init: "r1", rules: { r1: { type: "path", args: { pattern: "^/(blog", regex: true, succ: "nope" } } } }));
    const [r1, r2, r3] = await Promise.all([
      elbctl("D", "domain", "set", "app.test", "-f", bad),
      elbctl("D", "domain", "set", "App.test", "-f", rs),
      elbctl("D", "domain", "set", "x.test", "-f", file("broken.json", "{\"init\": ")),
    ]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain("/D/rules/app.test /rules/r1/args/pattern: invalid regex");
    expect(r1.stderr).toContain('/D/rules/app.test /rules/r1/args/succ: names no rule: "nope"');
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain("domain must be lowercase");
    expect(r3.code).toBe(1);
    expect(r3.stderr).toContain("malformed JSON");
    expect(await snapshot("/D/")).toBe(before);

    expect(await ok("D", "domain", "rm", "app.test")).toContain("removed /D/rules/app.test");
    expect(await keys("/D/")).toEqual({});
    const gone = await elbctl("D", "domain", "get", "app.test");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("no domain app.test");
  });
});

describe("upstream and server", () => {
  it("upstream set, get, ls, rm; invalid servers refused with nothing written", async () => {
    await ok("U", "upstream", "set", "up1", "10.0.0.1:80", "10.0.0.2:80=weight=2 max_fails=3");
    expect(await keys("/U/upstreams/")).toEqual({ "/U/upstreams/up1/10.0.0.1:80": "", "/U/upstreams/up1/10.0.0.2:80": "weight=2 max_fails=3" });
    // set replaces the list: 10.0.0.1 leaves, 10.0.0.3 joins, 10.0.0.2 keeps its params
    await ok("U", "upstream", "set", "up1", "10.0.0.2:80=weight=2 max_fails=3", "10.0.0.3:80");
    expect(await keys("/U/upstreams/")).toEqual({ "/U/upstreams/up1/10.0.0.2:80": "weight=2 max_fails=3", "/U/upstreams/up1/10.0.0.3:80": "" });
    const ls = await ok("U", "upstream", "ls", "--no-health");
    expect(ls).toMatch(/up1\s+10\.0\.0\.2:80\s+weight=2 max_fails=3/);
    const got = JSON.parse(await ok("U", "upstream", "get", "up1", "--json", "--no-health"));
    expect(got.servers.map((s: any) => [s.addr, s.params])).toEqual([["10.0.0.2:80", "weight=2 max_fails=3"], ["10.0.0.3:80", ""]]);

    const before = await snapshot("/U/");
    const [bad1, bad2, bad3] = await Promise.all([
      elbctl("U", "upstream", "set", "up1", "10.0.0.9:0", "10.0.0.8:80=weight=0 bogus"),
      elbctl("U", "upstream", "set", "bad/name", "10.0.0.1:80"),
      elbctl("U", "server", "add", "up1", "10.0.0.5:80", "--params", "fail_timeout=x"),
    ]);
    expect(bad1.code).toBe(1);
    expect(bad1.stderr).toContain("/U/upstreams/up1 /10.0.0.9:0: invalid host:port: port must be a number from 1 to 65535");
    expect(bad1.stderr).toContain("weight must be a whole number from 1 to 10000");
    expect(bad1.stderr).toContain('unknown server param "bogus"');
    expect(bad2.code).toBe(1);
    expect(bad2.stderr).toContain("upstream name may hold only");
    expect(bad3.code).toBe(1);
    expect(bad3.stderr).toContain("/U/upstreams/up1/10.0.0.5:80: fail_timeout must be whole seconds");
    expect(await snapshot("/U/")).toBe(before);

    expect(await ok("U", "upstream", "rm", "up1")).toContain("removed up1 (2 servers)");
    expect(await keys("/U/")).toEqual({});
    expect((await elbctl("U", "upstream", "get", "up1")).code).toBe(1);
  });

  it("server add, drain, offline, enable (other params kept), rm", async () => {
    await ok("S", "server", "add", "up1", "10.0.0.1:80", "--params", "weight=5 max_fails=2");
    const key = "/S/upstreams/up1/10.0.0.1:80";
    const val = async () => (await keys(key))[key];
    expect(await val()).toBe("weight=5 max_fails=2");
    await ok("S", "server", "drain", "up1", "10.0.0.1:80");
    expect(await val()).toBe("weight=5 max_fails=2 drain");
    await ok("S", "server", "offline", "up1", "10.0.0.1:80");
    expect(await val()).toBe("weight=5 max_fails=2 down");
    const en = JSON.parse(await ok("S", "server", "enable", "up1", "10.0.0.1:80", "--json"));
    expect(en).toMatchObject({ upstream: "up1", server: "10.0.0.1:80", state: "enabled", params: "weight=5 max_fails=2" });
    expect(await val()).toBe("weight=5 max_fails=2");
    const missing = await elbctl("S", "server", "drain", "up1", "10.0.0.9:80");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("10.0.0.9:80 is not a member of up1");
    await ok("S", "server", "rm", "up1", "10.0.0.1:80");
    expect(await keys("/S/")).toEqual({});
  });
});

describe("register", () => {
  it("holds the server under a lease; SIGTERM removes it at once and exits 0", async () => {
    const key = "/R/upstreams/svc/10.0.0.1:80";
    const p = start(["register", "svc", "10.0.0.1:80", "--params", "weight=3", "--ttl", "10"], { ELBNAME: "R" });
    await waitFor(() => p.out().includes("registered"), 10000, "register to print");
    expect((await keys(key))[key]).toBe("weight=3");
    const lease = JSON.parse((await etcdctl(etcd.endpoint, "get", key, "-w", "json")).stdout).kvs[0].lease;
    expect(Number(lease)).toBeGreaterThan(0);
    const t0 = Date.now();
    p.child.kill("SIGTERM");
    const r = await p.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`SIGTERM: removed ${key}`);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await keys(key)).toEqual({});
  });

  it("after SIGKILL, the server leaves within the TTL", async () => {
    const key = "/R/upstreams/svc/10.0.0.2:80";
    const p = start(["register", "svc", "10.0.0.2:80", "--ttl", "2"], { ELBNAME: "R" });
    await waitFor(() => p.out().includes("registered"), 10000, "register to print");
    // kept alive past its TTL while the process runs
    await new Promise((r) => setTimeout(r, 2500));
    expect((await keys(key))[key]).toBe("");
    const t0 = Date.now();
    p.child.kill("SIGKILL");
    await p.done;
    await waitFor(async () => Object.keys(await keys(key)).length === 0, 4000, "the key to expire", 100);
    expect(Date.now() - t0).toBeLessThan(3500);
  });

  it("a lost lease (revoked behind its back) is granted again and the key written again", async () => {
    const key = "/R/upstreams/svc/10.0.0.3:80";
    const p = start(["register", "svc", "10.0.0.3:80", "--ttl", "5"], { ELBNAME: "R" });
    await waitFor(() => p.out().includes("registered"), 10000, "register to print");
    // the lease id is an int64: read it as text, JSON.parse would round it
    const lease = () => etcdctl(etcd.endpoint, "get", key, "-w", "json").then((r) => /"lease":(\d+)/.exec(r.stdout)?.[1]);
    const first = await lease();
    await etcdctl(etcd.endpoint, "lease", "revoke", BigInt(first!).toString(16));
    await waitFor(async () => {
      const l = await lease();
      return l !== undefined && l !== first;
    }, 8000, "the key under a new lease", 100);
    expect(p.out()).toContain("lease lost");
    p.child.kill("SIGINT");
    expect((await p.done).code).toBe(0);
    expect(await keys(key)).toEqual({});
  });

  it("refuses an invalid server, writing nothing", async () => {
    const r = await elbctl("R", "register", "svc", "10.0.0.1:99999");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("invalid host:port");
    expect(await keys("/R/")).toEqual({});
  });
});

describe("switch", () => {
  it("makes one server the only member in one transaction: readers of etcd and clients of the ELB never see a mix or nothing", async () => {
    await ok("ELB", "upstream", "set", "blue", a.addr, b.addr);
    await ok("ELB", "domain", "set", "switch.test", "-f", file("sw.json", JSON.stringify(backendRules("blue"))));
    await waitFor(async () => (await elb.request({ path: "/", headers: { Host: "switch.test" } })).status === 200, 5000, "ELB to route switch.test");

    const client = new Etcd3({ hosts: `http://${etcd.endpoint}` });
    const seen = new Set<string>();
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const m = await client.getAll().prefix("/ELB/upstreams/blue/").keys();
        seen.add(m.map((k) => k.split("/").pop()).sort().join(","));
      }
    })();
    const statuses: number[] = [];
    const backends = new Set<string>();
    const clients = (async () => {
      while (!stop) {
        const r = await elb.request({ path: "/", headers: { Host: "switch.test" } });
        statuses.push(r.status);
        if (r.json?.backend) backends.add(r.json.backend);
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const out = await ok("ELB", "switch", "blue", c.addr);
    expect(out).toContain(`switched blue to ${c.addr}`);
    await waitFor(async () => (await elb.request({ path: "/", headers: { Host: "switch.test" } })).json?.backend === "C", 5000, "ELB to use C");
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all([reader, clients]);
    client.close();

    const old = [a.addr, b.addr].sort().join(",");
    expect([...seen].every((s) => s === old || s === c.addr), [...seen].join(" | ")).toBe(true);
    expect(seen.has(old) && seen.has(c.addr)).toBe(true);
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.every((s) => s === 200), statuses.filter((s) => s !== 200).join(",")).toBe(true);
    expect(backends).toEqual(new Set(["A", "B", "C"]));
    expect(await keys("/ELB/upstreams/blue/")).toEqual({ [`/ELB/upstreams/blue/${c.addr}`]: "" });

    // switching back is the same command
    await ok("ELB", "switch", "blue", a.addr);
    expect(Object.keys(await keys("/ELB/upstreams/blue/"))).toEqual([`/ELB/upstreams/blue/${a.addr}`]);
    const none = await elbctl("ELB", "switch", "nope", a.addr);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no upstream nope");
  });
});

describe("apply and export", () => {
  const config = `
domains:
  app.test:
    init: r1
    rules:
      r1: {type: path, args: {pattern: /api, succ: api, fail: web}}
      api: {type: backend, args: {servername: api}}
      web: {type: backend, args: {servername: web}}
upstreams:
  api:
    "10.0.0.1:80": "weight=2"
    "10.0.0.2:80": ""
  web:
    "10.0.0.3:80": backup
policies:
  api: {algorithm: least_conn}
`;

  it("--dry-run prints the diff and changes nothing; apply writes it in one transaction; export then apply is a no-op", async () => {
    const f = file("config.yaml", config);
    const before = await snapshot("/A/");
    const dry = await ok("A", "apply", "-f", f, "--dry-run");
    expect(dry).toContain("+ domain app.test");
    expect(dry).toContain('+ server api 10.0.0.1:80: weight=2');
    expect(dry).toContain("+ policy api");
    expect(dry).toContain("dry run: 5 changes would be applied, nothing written");
    expect(await snapshot("/A/")).toBe(before);

    const applied = JSON.parse(await ok("A", "apply", "-f", f, "--json"));
    expect(applied.changes).toHaveLength(5);
    // one transaction: every key written at the same revision
    const mods = JSON.parse(await snapshot("/A/")).map((kv: any[]) => Number(kv[2]));
    expect(mods).toHaveLength(5);
    expect(new Set(mods)).toEqual(new Set([applied.revision]));
    const k = await keys("/A/");
    expect(k["/A/upstreams/api/10.0.0.1:80"]).toBe("weight=2");
    expect(k["/A/upstreams/web/10.0.0.3:80"]).toBe("backup");
    expect(JSON.parse(k["/A/policies/api"])).toEqual({ algorithm: "least_conn" });

    // export (YAML and JSON) then apply: nothing to do, nothing written
    const exported = await ok("A", "export");
    const exportedJson = JSON.parse(await ok("A", "export", "--json"));
    expect(exportedJson.upstreams).toEqual({ api: { "10.0.0.1:80": "weight=2", "10.0.0.2:80": "" }, web: { "10.0.0.3:80": "backup" } });
    const rev = await snapshot("/A/");
    expect(await ok("A", "apply", "-f", file("exported.yaml", exported))).toContain("no changes");
    expect(await ok("A", "apply", "-f", file("exported.json", JSON.stringify(exportedJson)), "--prune")).toContain("no changes");
    expect(await snapshot("/A/")).toBe(rev);
  });

  it("an upstream in the file gets exactly its servers; --prune removes what the file does not name", async () => {
    await ok("A", "server", "add", "web", "10.0.0.4:80");
    await ok("A", "upstream", "set", "extra", "10.0.0.9:80");
    const f = file("config2.yaml", config);
    const out = await ok("A", "apply", "-f", f);
    expect(out).toContain("- server web 10.0.0.4:80");
    expect(out).not.toContain("extra");
    expect(Object.keys(await keys("/A/upstreams/extra/"))).toHaveLength(1);
    const pruned = await ok("A", "apply", "-f", f, "--prune");
    expect(pruned).toContain("- server extra 10.0.0.9:80");
    expect(await keys("/A/upstreams/extra/")).toEqual({});
  });

  it("an invalid file is rejected whole, every error with where it is, nothing written", async () => {
    const bad = file(
      "bad.yaml",
      `
domains:
  good.test: {init: b, rules: {b: {type: backend, args: {servername: api}}}}
  Bad.test: {init: x, rules: {b: {type: backend, args: {servername: api}}}}
upstreams:
  api: {"10.0.0.1:0": "weight=0"}
  empty: {}
policies:
  api: {algorithm: fastest}
extra: 1
`,
    );
    const before = await snapshot("/A/");
    const r = await elbctl("A", "apply", "-f", bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is invalid, nothing written: 7 problems");
    for (const where of [
      "/extra: unknown section",
      "/domains/Bad.test (key /A/rules/Bad.test): domain must be lowercase",
      '/domains/Bad.test/init (key /A/rules/Bad.test): names no rule: "x"',
      "/upstreams/api/10.0.0.1:0 (key /A/upstreams/api/10.0.0.1:0): invalid host:port",
      "/upstreams/api/10.0.0.1:0 (key /A/upstreams/api/10.0.0.1:0): weight must be",
      "/upstreams/empty (key /A/upstreams/empty/): an upstream needs at least one server",
      '/policies/api/algorithm (key /A/policies/api): unknown algorithm "fastest"',
    ]) {
      expect(r.stderr).toContain(where);
    }
    expect(await snapshot("/A/")).toBe(before);
  });

  it("more than 128 operations: refused with a clear message, nothing written", async () => {
    const servers: Record<string, string> = {};
    for (let i = 1; i <= 130; i++) servers[`10.1.0.${i % 250}:${1000 + i}`] = "";
    const f = file("big.json", JSON.stringify({ upstreams: { big: servers } }));
    const before = await snapshot("/A/");
    const r = await elbctl("A", "apply", "-f", f);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("needs 130 etcd operations; one transaction holds at most 128");
    expect(await snapshot("/A/")).toBe(before);
  });
});

describe("with a running ELB: status, health in upstream ls", () => {
  it("status lists the node with its address, version, revision and lag", async () => {
    const etcdRev = JSON.parse(await ok("ELB", "upstream", "set", "st", a.addr, "--json")).revision;
    const s = await waitFor(
      async () => {
        const j = JSON.parse(await ok("ELB", "status", "--json"));
        return j.nodes.length === 1 && j.nodes[0].lag === 0 && j.nodes[0].revision >= etcdRev ? j : undefined;
      },
      10000,
      "the node to publish the newest revision",
      200,
    );
    expect(s.nodes[0]).toMatchObject({ id: "node-1", address: `127.0.0.1:${elb.port}`, version: expect.any(String), lag: 0 });
    const text = await ok("ELB", "status");
    expect(text).toMatch(new RegExp(`node-1\\s+127\\.0\\.0\\.1:${elb.port}\\s+\\S+\\s+\\d+\\s+0`));
  });

  it("upstream ls shows each server's health from the node", async () => {
    const r = JSON.parse(await ok("ELB", "upstream", "ls", "--json"));
    expect(r.healthFrom).toBe(`127.0.0.1:${elb.port}`);
    const st = r.servers.find((s: any) => s.upstream === "st");
    expect(st.health).toMatchObject({ healthy: true, fails: 0, active: 0 });
    const text = await ok("ELB", "upstream", "ls", "--elb", `127.0.0.1:${elb.port}`);
    expect(text).toContain("HEALTHY");
    expect(text).toContain(`health as seen by 127.0.0.1:${elb.port}`);
  });
});

describe("--json", () => {
  it("every command's output is JSON", async () => {
    await ok("J", "upstream", "set", "up1", "10.0.0.1:80");
    await ok("J", "domain", "set", "j.test", "-f", file("j.json", JSON.stringify(backendRules("up1"))));
    const reads = [
      ["domain", "get", "j.test"],
      ["upstream", "ls", "--no-health"],
      ["graph", "j.test"],
      ["apply", "-f", file("j.yaml", "upstreams: {up1: {'10.0.0.1:80': ''}}"), "--dry-run"],
    ].map((a) => [a]);
    // chains of writes that depend on each other; the chains run side by side
    const chains = [
      [["server", "add", "up1", "10.0.0.2:80"], ["server", "drain", "up1", "10.0.0.2:80"], ["server", "offline", "up1", "10.0.0.2:80"], ["server", "rm", "up1", "10.0.0.2:80"]],
      [["upstream", "set", "up2", "10.0.0.3:80"], ["switch", "up2", "10.0.0.4:80"], ["upstream", "rm", "up2"]],
      [["domain", "set", "k.test", "-f", file("k.json", JSON.stringify(backendRules("up1")))], ["domain", "rm", "k.test"]],
    ];
    const results = await Promise.all(
      [...reads, ...chains].map(async (chain) => {
        const outs: [string, string][] = [];
        for (const a of chain) outs.push([a.join(" "), await ok("J", ...a, "--json")]);
        return outs;
      }),
    );
    for (const [cmd, o] of results.flat()) expect(() => JSON.parse(o), cmd).not.toThrow();
    const err = await elbctl("J", "domain", "get", "nope.test", "--json");
    expect(err.code).toBe(1);
    expect(JSON.parse(err.stderr)).toEqual({ error: "no domain nope.test (no key /J/rules/nope.test)" });
  });
});

describe("graph and watch", () => {
  it("graph: a tree, dot and svg", async () => {
    await ok("G", "domain", "set", "app.test", "-f", file("g.json", JSON.stringify(blogRules)));
    await ok("G", "upstream", "set", "up1", "10.0.0.1:80");
    const [tree, dot, svg] = await Promise.all([ok("G", "graph", "app.test"), ok("G", "graph", "app.test", "--format", "dot"), ok("G", "graph", "app.test", "--format", "svg")]);
    expect(tree.split("\n")[0]).toBe("app.test");
    expect(tree).toContain("└─ r1 ua ~* httpie(\\S+)$");
    expect(tree).toContain("match -> r4 path ~ ^\\/blog\\/(\\S+)$");
    expect(tree).toContain("r2 backend -> up1 {10.0.0.1:80}");
    expect(tree).toContain("r3 backend -> up2 (no such upstream: 502)");
    expect(dot).toMatch(/^digraph "app\.test" \{/);
    expect(dot).toContain('"r1" -> "r4" [label="match"');
    expect(dot).toContain('"r1" -> "r3" [label="miss"');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
    for (const r of ["r1", "r2", "r3", "r4"]) expect(svg).toContain(`>${r}</text>`);
  });

  it("watch prints one line per change, marking values the engine would refuse", async () => {
    const w = start(["watch", "--count", "3"], { ELBNAME: "W" });
    await waitFor(() => w.err().includes("watching /W/"), 10000, "watch to start");
    await etcdctl(etcd.endpoint, "put", "/W/upstreams/up1/10.0.0.1:80", "weight=2");
    await etcdctl(etcd.endpoint, "put", "/W/upstreams/up1/10.0.0.2:80", "weight=zero");
    await etcdctl(etcd.endpoint, "del", "/W/upstreams/up1/10.0.0.1:80");
    const r = await w.done;
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/rev \d+ put +server up1 10\.0\.0\.1:80 weight=2$/);
    expect(lines[1]).toContain("server up1 10.0.0.2:80 weight=zero INVALID: /: weight must be a whole number");
    expect(lines[2]).toMatch(/delete server up1 10\.0\.0\.1:80$/);

    const wj = start(["watch", "--count", "1", "--json"], { ELBNAME: "W" });
    await waitFor(() => wj.err().includes("watching /W/"), 10000, "watch to start");
    await etcdctl(etcd.endpoint, "put", "/W/rules/x.test", JSON.stringify(backendRules("up1")));
    const rj = await wj.done;
    expect(JSON.parse(rj.stdout)).toMatchObject({ type: "put", kind: "domain", key: "/W/rules/x.test", invalid: null });
  });

  it("watch rides out an etcd restart and misses nothing", async () => {
    const w = start(["watch", "--count", "2"], { ELBNAME: "W2" });
    await waitFor(() => w.err().includes("watching /W2/"), 10000, "watch to start");
    await etcdctl(etcd.endpoint, "put", "/W2/upstreams/up1/10.0.0.1:80", "");
    await waitFor(() => w.out().includes("10.0.0.1:80"), 5000, "the first change");
    await etcd.restart();
    await etcdctl(etcd.endpoint, "put", "/W2/upstreams/up1/10.0.0.2:80", "");
    const r = await w.done;
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").map((l) => l.replace(/^\S+ rev \d+ /, ""))).toEqual(['put    server up1 10.0.0.1:80 ""', 'put    server up1 10.0.0.2:80 ""']);
    expect(r.stderr).toContain("lost etcd");
  });
});
