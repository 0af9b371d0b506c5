// etcd as the source of truth: what a node loads at start, dump, restarts, values written by
// hand with etcdctl, and a start while etcd is down.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, etcdctl, startBackend, startElb, startEtcd, stopAll, waitFor } from "./harness";

let etcd: Etcd;
let a: Backend;
let b: Backend;

const backendRules = (up: string) => ({ init: "b", rules: { b: { type: "backend", args: { servername: up } } } });

async function status(elb: Elb) {
  return (await elb.request("/__erulb__/status")).json;
}

beforeAll(async () => {
  etcd = await startEtcd();
  a = await startBackend("A");
  b = await startBackend("B");
});

afterAll(stopAll);

describe("loading from etcd", () => {
  it("serves what etcdctl put there, in the Eru layout, and skips invalid values", async () => {
    await etcdctl(etcd.endpoint, "put", `/HAND/upstreams/up1/${a.addr}`, "");
    await etcdctl(etcd.endpoint, "put", `/HAND/upstreams/up2/${b.addr}`, "max_fails=2 weight=10");
    await etcdctl(etcd.endpoint, "put", "/HAND/upstreams/up2/127.0.0.1:1", "weight=zero");
    await etcdctl(etcd.endpoint, "put", "/HAND/rules/one.test", JSON.stringify(backendRules("up1")));
    await etcdctl(etcd.endpoint, "put", "/HAND/rules/two.test", JSON.stringify(backendRules("up2")));
    await etcdctl(etcd.endpoint, "put", "/HAND/rules/broken.test", '{"init": "x", "rules": {');
    await etcdctl(etcd.endpoint, "put", "/HAND/other/thing", "ignored");
    const elb = await startElb({ etcd: etcd.endpoint, elbName: "HAND" });
    await elb.waitLoaded(10000);
    expect((await elb.request({ path: "/", headers: { Host: "one.test" } })).json.backend).toBe("A");
    expect((await elb.request({ path: "/", headers: { Host: "two.test" } })).json.backend).toBe("B");
    expect((await elb.request({ path: "/", headers: { Host: "broken.test" } })).status).toBe(404);
    const s = await status(elb);
    expect(Object.keys(s.invalid_keys).sort()).toEqual(["/HAND/rules/broken.test", "/HAND/upstreams/up2/127.0.0.1:1"]);
    expect(s.invalid_keys["/HAND/upstreams/up2/127.0.0.1:1"].error).toBe("weight must be a whole number from 1 to 10000");
    expect(s.domains).toBe(2);
    expect(s.upstreams).toBe(2);
    expect(elb.errorLog()).toMatch(/etcd key \/HAND\/rules\/broken\.test \(revision \d+\) is invalid and skipped: invalid JSON/);
    expect((await elb.request("/__erulb__/upstream")).json.up2).toMatchObject([{ addr: b.addr, name: b.addr, weight: 10, max_fails: 2, fail_timeout: 10 }]);
    await elb.stop();
  });
});

describe("dump and restart", () => {
  it("keeps serving when etcd is replaced by an empty one, dump writes the live state there, a restart restores it", async () => {
    const elb = await startElb({ etcd: etcd.endpoint, elbName: "DUMP" });
    await elb.request({ method: "PUT", path: "/__erulb__/upstream", body: { up1: { [a.addr]: "weight=2", [b.addr]: "backup" } } });
    await elb.request({ method: "PUT", path: "/__erulb__/domain", body: { "d.test": backendRules("up1"), "e.test": backendRules(b.addr) } });
    const domainsBefore = (await elb.request("/__erulb__/domain")).json;
    const upstreamsBefore = (await elb.request("/__erulb__/upstream")).json;

    // a new, empty etcd on the same address: its revision starts again from 1
    await etcd.stop();
    rmSync(join(etcd.dataDir, "data"), { recursive: true, force: true });
    await etcd.restart();
    await waitFor(async () => (await status(elb)).etcd.includes("behind this node"), 15000, "the node to notice etcd went back");
    expect((await elb.request({ path: "/", headers: { Host: "d.test" } })).json.backend).toBe("A");

    const dump = await elb.request({ method: "PUT", path: "/__erulb__/dump" });
    expect(dump.status).toBe(200);
    expect(dump.json).toEqual({ msg: "OK" });
    const keys = (await etcdctl(etcd.endpoint, "get", "--prefix", "--keys-only", "/DUMP/")).stdout.split("\n").filter((k) => k && !k.startsWith("/DUMP/nodes/")).sort();
    expect(keys).toEqual(["/DUMP/rules/d.test", "/DUMP/rules/e.test", `/DUMP/upstreams/up1/${a.addr}`, `/DUMP/upstreams/up1/${b.addr}`].sort());
    // the node follows etcd again: a change by etcdctl arrives
    await waitFor(async () => (await status(elb)).etcd === "connected", 15000, "the watch to resume");
    await etcdctl(etcd.endpoint, "put", "/DUMP/rules/f.test", JSON.stringify(backendRules("up1")));
    await waitFor(async () => (await elb.request({ path: "/", headers: { Host: "f.test" } })).status === 200, 5000, "f.test to route");

    await elb.restart();
    await elb.waitLoaded(10000);
    expect((await elb.request("/__erulb__/upstream")).json).toEqual(upstreamsBefore);
    expect((await elb.request("/__erulb__/domain")).json).toEqual({ ...domainsBefore, "f.test": backendRules("up1") });
    expect((await elb.request({ path: "/", headers: { Host: "d.test" } })).json.backend).toBe("A");
    expect((await elb.request({ path: "/", headers: { Host: "e.test" } })).json.backend).toBe("B");
    await elb.stop();
  }, 60_000);

  it("dump fails with 503 when etcd cannot be reached", async () => {
    const elb = await startElb({ etcd: etcd.endpoint, elbName: "DUMP2" });
    await elb.request({ method: "PUT", path: "/__erulb__/upstream", body: { up1: { [a.addr]: "" } } });
    await etcd.stop();
    try {
      const r = await elb.request({ method: "PUT", path: "/__erulb__/dump" });
      expect(r.status).toBe(503);
      expect(r.json.msg).toMatch(/etcd unreachable/);
    } finally {
      await etcd.restart();
    }
    await elb.stop();
  });
});

describe("etcd down at start", () => {
  it("serves (nothing yet) while it retries, then loads when etcd returns", async () => {
    await etcdctl(etcd.endpoint, "put", `/LATE/upstreams/up1/${a.addr}`, "");
    await etcdctl(etcd.endpoint, "put", "/LATE/rules/late.test", JSON.stringify(backendRules("up1")));
    await etcd.stop();
    const elb = await startElb({ etcd: etcd.endpoint, elbName: "LATE" });
    const s = await status(elb);
    expect(s.loaded).toBe(false);
    await waitFor(async () => /etcd unreachable/.test((await status(elb)).etcd), 5000, "the etcd state in status");
    expect((await elb.request({ path: "/", headers: { Host: "late.test" } })).status).toBe(404);
    await etcd.restart();
    await elb.waitLoaded(15000);
    expect((await elb.request({ path: "/", headers: { Host: "late.test" } })).json.backend).toBe("A");
    expect(elb.errorLog()).toMatch(/etcd: etcd unreachable: .*; retrying in about/);
    await elb.stop();
  }, 60_000);
});
