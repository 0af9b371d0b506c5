// Fleet-wide confirmation with two real nodes on one etcd: `elbctl ... --wait` and the admin
// API's ?wait=fleet return once both nodes applied the change (each node's own API then
// serves it), and, with one node stopped (SIGSTOP of its nginx), time out naming that node
// (exit 4 / 504); elbctl status and GET /__erulb__/fleet show each node's lag; the registry
// entries stay put when nothing changes (the nodes' own writes do not make each other write).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runElbctl } from "./elbctl-run";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, etcdctl, nginxPids, REPO_ROOT, sleep, startBackend, startElb, startEtcd, stopAll, tmpDir, waitFor } from "./harness";

const NAME = "WAIT";
let etcd: Etcd;
let n1: Elb;
let n2: Elb;
let a: Backend;
let b: Backend;
let stopped: Elb | undefined;

const elbctl = (...args: string[]) => runElbctl(etcd.endpoint, NAME, args);

function signal(node: Elb, sig: NodeJS.Signals): void {
  for (const pid of nginxPids(node.prefix)) process.kill(pid, sig);
}

function pause(node: Elb): void {
  signal(node, "SIGSTOP");
  stopped = node;
}

function resume(): void {
  if (stopped) signal(stopped, "SIGCONT");
  stopped = undefined;
}

async function serversOf(node: Elb, upstream: string): Promise<Record<string, any>> {
  const list = (await node.api("GET", "upstream")).json[upstream] ?? [];
  return Object.fromEntries(list.map((s: any) => [s.addr, s]));
}

async function etcdRevision(): Promise<number> {
  return Number(JSON.parse((await etcdctl(etcd.endpoint, "get", "nothing", "-w", "json")).stdout).header.revision);
}

beforeAll(async () => {
  etcd = await startEtcd();
  a = await startBackend("A");
  b = await startBackend("B");
  n1 = await startElb({ etcd: etcd.endpoint, elbName: NAME, env: { ELB_NODE_ID: "n1" } });
  n2 = await startElb({ etcd: etcd.endpoint, elbName: NAME, env: { ELB_NODE_ID: "n2" } });
  await n1.waitLoaded();
  await n2.waitLoaded();
  await waitFor(async () => JSON.parse((await elbctl("status", "--json")).stdout).nodes.length === 2, 10000, "both nodes to register");
});

afterEach(() => resume());

afterAll(async () => {
  resume();
  await stopAll();
});

describe("elbctl --wait", () => {
  it("returns once both nodes applied the change, and each then serves it", async () => {
    const set = await elbctl("upstream", "set", "up1", a.addr, "--wait=10");
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/revision \d+ applied on every node \(2\): n1, n2/);
    // no waiting on our side: both nodes answer with the new server at once
    expect(Object.keys(await serversOf(n1, "up1"))).toEqual([a.addr]);
    expect(Object.keys(await serversOf(n2, "up1"))).toEqual([a.addr]);
    expect(set.ms).toBeLessThan(5000);

    const file = join(tmpDir("wait"), "elb.yaml");
    writeFileSync(file, `domains:\n  w.test: {init: b, rules: {b: {type: backend, args: {servername: up1}}}}\nupstreams:\n  up1: {"${a.addr}": "", "${b.addr}": "weight=2"}\n`);
    const apply = await elbctl("apply", "-f", file, "--wait");
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain("applied on every node (2)");
    for (const n of [n1, n2]) {
      expect((await n.request({ path: "/", headers: { Host: "w.test" } })).status).toBe(200);
      expect((await serversOf(n, "up1"))[b.addr].weight).toBe(2);
    }
    // nothing to write: waits for the newest change, which both have
    const again = await elbctl("apply", "-f", file, "--wait=5");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("no changes");
    expect(again.stdout).toContain("applied on every node (2)");

    const drain = await elbctl("server", "drain", "up1", b.addr, "--wait=10", "--json");
    expect(drain.code, drain.stderr).toBe(0);
    const lines = drain.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ upstream: "up1", server: b.addr, state: "draining" });
    expect(lines[1].fleet).toMatchObject({ revision: lines[0].revision, confirmed: true, applied: ["n1", "n2"], pending: [] });
    for (const n of [n1, n2]) expect((await serversOf(n, "up1"))[b.addr].state).toBe("drain");

    const noop = await elbctl("upstream", "set", "up1", a.addr, `${b.addr}=weight=2 drain`, "--wait=5");
    expect(noop.code, noop.stderr).toBe(0);
  });

  it("with one node stopped, times out naming it (exit 4), and confirms once it runs again", async () => {
    pause(n2);
    const t0 = Date.now();
    const r = await elbctl("server", "enable", "up1", b.addr, "--wait=2");
    const took = Date.now() - t0;
    expect(r.code).toBe(4);
    expect(r.stdout).toContain(`up1 ${b.addr}: enabled`);
    expect(r.stderr).toMatch(/revision \d+ is written, but not applied within 2 s by 1 of 2 nodes: n2 \(/);
    expect(r.stderr).not.toMatch(/n1 \(/);
    expect(took).toBeGreaterThanOrEqual(2000);
    expect(took).toBeLessThan(8000);
    // the running node has it
    expect((await serversOf(n1, "up1"))[b.addr].state).toBe("up");

    // status shows who is behind
    const status = JSON.parse((await elbctl("status", "--json")).stdout);
    const lag = Object.fromEntries(status.nodes.map((n: any) => [n.id, n.lag]));
    expect(lag.n1).toBe(0);
    expect(lag.n2).toBeGreaterThan(0);
    const text = (await elbctl("status")).stdout;
    expect(text).toMatch(/n2\s+\S+\s+\S+\s+\d+\s+[1-9]\d*/);

    resume();
    const later = await elbctl("server", "enable", "up1", b.addr, "--wait=10");
    expect(later.code, later.stderr).toBe(0);
    expect(later.stdout).toContain("applied on every node (2)");
    expect((await serversOf(n2, "up1"))[b.addr].state).toBe("up");
  });
});

describe("the admin API", () => {
  it("?wait=fleet answers once every node applied the write, 504 naming a node that has not", async () => {
    const ok = await n1.request({ method: "PUT", path: "/__erulb__/upstream?wait=fleet&timeout=10", body: { up2: { [a.addr]: "" } } });
    expect(ok.status, ok.body).toBe(200);
    expect(Object.keys(await serversOf(n2, "up2"))).toEqual([a.addr]);

    pause(n2);
    const t0 = Date.now();
    const late = await n1.request({ method: "PUT", path: "/__erulb__/upstream?wait=fleet&timeout=2", body: { up2: { [b.addr]: "" } }, timeoutMs: 20000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    expect(late.status).toBe(504);
    expect(late.json.msg).toMatch(/^written at revision \d+ and applied here, but 1 node has not applied it within 2s: n2$/);
    expect(late.json.pending).toEqual([expect.objectContaining({ id: "n2" })]);
    expect(late.json.applied).toBe(1);
    // the change is in effect on the node that answered
    expect(Object.keys(await serversOf(n1, "up2"))).toEqual([b.addr]);

    const fleet = (await n1.api("GET", "fleet")).json;
    expect(fleet.nodes.map((n: any) => n.id)).toEqual(["n1", "n2"]);
    expect(fleet.nodes[0]).toMatchObject({ id: "n1", lag: 0, self: true, revision: fleet.newest_revision });
    expect(fleet.nodes[1].lag).toBeGreaterThan(0);
    resume();
    await waitFor(async () => (await n1.api("GET", "fleet")).json.nodes.every((n: any) => n.lag === 0), 10000, "n2 to catch up");
    // a write without ?wait answers as before, once this node applied it
    expect((await n1.api("PUT", "upstream", { up2: { [a.addr]: "" } })).status).toBe(200);
  });

  it("DELETE waits too; last changes list what the node took from etcd", async () => {
    const del = await n2.request({ method: "DELETE", path: "/__erulb__/upstream?wait=fleet", body: ["up2"] });
    expect(del.status, del.body).toBe(200);
    expect(del.json).toEqual({ up2: true });
    expect(await serversOf(n1, "up2")).toEqual({});
    const changes = (await n1.api("GET", "changes?limit=5")).json.changes;
    expect(changes[0]).toMatchObject({ type: "delete", key: `/${NAME}/upstreams/up2/${a.addr}` });
    expect(changes.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < changes.length; i++) expect(changes[i].revision).toBeLessThanOrEqual(changes[i - 1].revision);
  });
});

describe("the registry", () => {
  it("is written only when a node applied a change: idle nodes do not make each other write", async () => {
    await sleep(500);
    const before = await etcdRevision();
    await sleep(2500);
    expect(await etcdRevision()).toBe(before);
    const entries = JSON.parse((await elbctl("status", "--json")).stdout).nodes;
    expect(entries.map((n: any) => n.revision)).toEqual([entries[0].revision, entries[0].revision]);
  });
});
