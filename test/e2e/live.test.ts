// Live configuration: changes made in etcd by hand reach every worker at once; the watch
// survives a killed worker, etcd restarts, compaction, a cluster losing its leader, and etcd
// being down at start; nodes converge and register themselves.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, etcdctl, sleep, startBackend, startElb, startEtcd, stopAll, waitFor } from "./harness";
import { etcdctlRetry, killNginx, nginxPids, startEtcdCluster, startProxy, stopFleet } from "./fleet";

let etcd: Etcd;
let a: Backend;
let b: Backend;

const backendRules = (up: string) => JSON.stringify({ init: "b", rules: { b: { type: "backend", args: { servername: up } } } });

async function status(elb: Elb) {
  return (await elb.request("/__erulb__/status")).json;
}

/** The etcd revision of a put, from etcdctl's JSON output. */
async function put(endpoints: string, key: string, value: string): Promise<number> {
  const out = await etcdctlRetry(endpoints, "put", key, value, "-w", "json");
  return Number(JSON.parse(out.stdout).header.revision);
}

/** Every worker of `elb` applied revision `rev`. */
async function allWorkersAt(elb: Elb, rev: number) {
  const s = await status(elb);
  return s.workers.length > 0 && s.workers.every((w: { revision: number }) => w.revision >= rev) ? s : undefined;
}

async function backendFor(elb: Elb, host: string) {
  const r = await elb.request({ path: "/", headers: { Host: host } });
  return r.status === 200 ? r.json.backend : r.status;
}

beforeAll(async () => {
  etcd = await startEtcd();
  a = await startBackend("A");
  b = await startBackend("B");
});

afterAll(async () => {
  await stopAll();
  await stopFleet();
});

describe("changes made with etcdctl", () => {
  let elb: Elb;
  beforeAll(async () => {
    elb = await startElb({ etcd: etcd.endpoint, elbName: "LIVE", workers: 2 });
    await elb.waitLoaded(10000);
  });

  it("take effect on both workers, with no reload", async () => {
    await put(etcd.endpoint, `/LIVE/upstreams/up1/${a.addr}`, "");
    const rev = await put(etcd.endpoint, "/LIVE/rules/live.test", backendRules("up1"));
    const s = await waitFor(() => allWorkersAt(elb, rev), 3000, "both workers at the new revision");
    expect(s.workers.length).toBe(2);
    expect(s.revision).toBeGreaterThanOrEqual(rev);
    for (let i = 0; i < 10; i++) expect(await backendFor(elb, "live.test")).toBe("A");
    // a change of the upstream alone
    await put(etcd.endpoint, `/LIVE/upstreams/up1/${b.addr}`, "");
    const rev2 = await etcdctl(etcd.endpoint, "del", `/LIVE/upstreams/up1/${a.addr}`, "-w", "json").then((r) => Number(JSON.parse(r.stdout).header.revision));
    await waitFor(() => allWorkersAt(elb, rev2), 3000, "both workers after the delete");
    for (let i = 0; i < 10; i++) expect(await backendFor(elb, "live.test")).toBe("B");
    expect(elb.errorLog()).not.toMatch(/reload/);
  });

  it("skip an invalid value, keep serving the last valid one, and recover on the next valid one", async () => {
    const rev = await put(etcd.endpoint, "/LIVE/rules/live.test", '{"init": "nope", "rules": {}}');
    await waitFor(async () => (await status(elb)).invalid_keys["/LIVE/rules/live.test"], 3000, "the invalid key in status");
    expect((await status(elb)).invalid_keys["/LIVE/rules/live.test"].revision).toBe(rev);
    expect(await backendFor(elb, "live.test")).toBe("B");
    expect(elb.errorLog()).toMatch(/etcd key \/LIVE\/rules\/live\.test \(revision \d+\) is invalid and skipped/);
    const rev2 = await put(etcd.endpoint, "/LIVE/rules/live.test", backendRules(a.addr));
    await waitFor(() => allWorkersAt(elb, rev2), 3000, "the valid value");
    expect(await backendFor(elb, "live.test")).toBe("A");
    expect((await status(elb)).invalid_keys["/LIVE/rules/live.test"]).toBeUndefined();
  });

  it("keep flowing when the leading worker is killed; its replacement serves the current config", async () => {
    const before = await status(elb);
    const leader = before.leader_pid;
    expect(nginxPids(elb.prefix)).toContain(leader);
    process.kill(leader, "SIGKILL");
    // a dead leader is noticed (its pid is gone) at the next 0.2 s tick; the deadline leaves
    // room for a slow machine while staying under the lead's 5 s TTL, which would also move it
    const moved = await waitFor(async () => {
      const s = await status(elb);
      return s.leader_pid !== leader && s.leader_pid !== 0 && s;
    }, 3000, "another worker to take the lead at once (before the 5 s TTL)");
    expect(nginxPids(elb.prefix)).toContain(moved.leader_pid);
    const rev = await put(etcd.endpoint, "/LIVE/rules/after-kill.test", backendRules(a.addr));
    const s = await waitFor(() => allWorkersAt(elb, rev), 5000, "a new leader to deliver the change");
    expect(s.leader_pid).not.toBe(leader);
    expect(nginxPids(elb.prefix)).not.toContain(leader);
    // every worker (the new one included) routes by the whole current configuration
    for (let i = 0; i < 10; i++) {
      expect(await backendFor(elb, "after-kill.test")).toBe("A");
      expect(await backendFor(elb, "live.test")).toBe("A");
    }
  });

  it("keep flowing across an nginx reload: a new worker takes the lead at once", async () => {
    const [master, ...oldWorkers] = nginxPids(elb.prefix);
    process.kill(master, "SIGHUP");
    const s = await waitFor(async () => {
      const st = await status(elb);
      return st.leader_pid !== 0 && !oldWorkers.includes(st.leader_pid) && st;
    }, 3000, "a new worker to lead at once after the reload (before the 5 s TTL)");
    expect(nginxPids(elb.prefix)).toContain(s.leader_pid);
    const rev = await put(etcd.endpoint, "/LIVE/rules/after-reload.test", backendRules(a.addr));
    await waitFor(() => allWorkersAt(elb, rev), 3000, "the change after the reload");
    for (let i = 0; i < 10; i++) {
      expect(await backendFor(elb, "after-reload.test")).toBe("A");
      expect(await backendFor(elb, "after-kill.test")).toBe("A");
    }
  });

  it("resume after etcd is killed and restarted, with changes made meanwhile, in order", async () => {
    etcd.kill("SIGKILL");
    await sleep(300);
    await etcd.restart();
    for (let i = 1; i <= 20; i++) await put(etcd.endpoint, "/LIVE/rules/order.test", backendRules(`127.0.0.1:${10000 + i}`));
    const last = await put(etcd.endpoint, `/LIVE/upstreams/up9/${b.addr}`, "");
    await waitFor(() => allWorkersAt(elb, last), 10000, "the node to catch up");
    const rules = (await elb.request("/__erulb__/domain")).json["order.test"];
    expect(rules.rules.b.args.servername).toBe("127.0.0.1:10020");
    expect(elb.errorLog()).toMatch(/watch stream ended|etcd unreachable/);
  });

  it("registers the node in /LIVE/nodes/ with its address, version, start time and revision", async () => {
    const s = await status(elb);
    const value = await waitFor(async () => (await etcdctl(etcd.endpoint, "get", `/LIVE/nodes/${s.node}`, "--print-value-only")).stdout.trim(), 5000, "the registry entry");
    const entry = JSON.parse(value);
    expect(entry.id).toBe(s.node);
    expect(entry.address).toBe(s.address);
    expect(entry.version).toBe("0.1.0");
    expect(entry.started_at).toBeGreaterThan(1.7e9);
    await waitFor(async () => JSON.parse((await etcdctl(etcd.endpoint, "get", `/LIVE/nodes/${s.node}`, "--print-value-only")).stdout).revision >= s.config_revision, 5000, "the published revision");
  });
});

describe("compaction", () => {
  it("a node that lost the revisions it needs reloads once, keeping unchanged entries, removing what is gone", async () => {
    const proxy = await startProxy(etcd.endpoint);
    const elb = await startElb({ etcd: proxy.endpoint, elbName: "COMPACT", workers: 2 });
    await put(etcd.endpoint, `/COMPACT/upstreams/up1/${a.addr}`, "");
    await put(etcd.endpoint, "/COMPACT/rules/keep.test", backendRules("up1"));
    const rev0 = await put(etcd.endpoint, "/COMPACT/rules/gone.test", backendRules("up1"));
    await waitFor(() => allWorkersAt(elb, rev0), 5000, "the first changes");
    await proxy.cut();
    await put(etcd.endpoint, "/COMPACT/rules/new.test", backendRules(b.addr));
    await etcdctl(etcd.endpoint, "del", "/COMPACT/rules/gone.test");
    const rev = await put(etcd.endpoint, "/COMPACT/rules/keep.test", backendRules("up1")); // same value, new revision
    await etcdctl(etcd.endpoint, "compact", String(rev));
    await proxy.restore();
    await waitFor(async () => (await backendFor(elb, "new.test")) === "B", 15000, "the change made during the cut");
    expect(await backendFor(elb, "gone.test")).toBe(404);
    expect(await backendFor(elb, "keep.test")).toBe("A");
    const log = elb.errorLog();
    expect(log).toMatch(/compacted: revision \d+ is gone/);

    expect(log).toMatch(/loaded 3 keys from etcd at revision \d+ in [\d.]+s, 2 changed/);
    await elb.stop();
  }, 60_000);
});

describe("a 3-member etcd cluster", () => {
  it("losing its leader while changes keep coming: every change arrives, in order", async () => {
    const cluster = await startEtcdCluster(3);
    const elb = await startElb({ etcd: cluster.endpoints, elbName: "HA", workers: 2 });
    await put(cluster.endpoints, `/HA/upstreams/up1/${a.addr}`, "");
    await elb.waitLoaded(10000);
    const leader = await cluster.leader();
    let lastRev = 0;
    for (let i = 1; i <= 40; i++) {
      if (i === 15) cluster.kill(leader);
      lastRev = await put(cluster.endpoints, `/HA/rules/c${i}.test`, backendRules("up1"));
      await put(cluster.endpoints, "/HA/rules/latest.test", backendRules(`127.0.0.1:${20000 + i}`));
    }
    lastRev = Math.max(lastRev, await put(cluster.endpoints, "/HA/rules/final.test", backendRules("up1")));
    await waitFor(() => allWorkersAt(elb, lastRev), 20000, "every change");
    const domains = (await elb.request("/__erulb__/domain")).json;
    for (let i = 1; i <= 40; i++) expect(domains[`c${i}.test`], `c${i}.test`).toBeDefined();
    expect(domains["latest.test"].rules.b.args.servername).toBe("127.0.0.1:20040");
    expect(await backendFor(elb, "c40.test")).toBe("A");
    await elb.stop();
  }, 90_000);
});

describe("etcd down at start", () => {
  it("serves the last known good configuration from disk, then catches up", async () => {
    const elb = await startElb({ etcd: etcd.endpoint, elbName: "DISK", workers: 2 });
    await put(etcd.endpoint, `/DISK/upstreams/up1/${a.addr}`, "");
    const rev = await put(etcd.endpoint, "/DISK/rules/disk.test", backendRules("up1"));
    await waitFor(() => allWorkersAt(elb, rev), 5000, "the config");
    await waitFor(async () => (await etcdctl(etcd.endpoint, "get", "--prefix", "--keys-only", "/DISK/nodes/")).stdout.trim() !== "", 5000, "registration");
    // the snapshot is written once changes were quiet for a second
    const snapshot = join(elb.prefix, "state/snapshot");
    await waitFor(() => { try { return readFileSync(snapshot, "utf8").includes("disk.test"); } catch { return false; } }, 10000, "the snapshot");
    await elb.stop();
    // while the node is down, etcd changes; then etcd goes down too
    await put(etcd.endpoint, "/DISK/rules/disk.test", backendRules(b.addr));
    await etcd.stop();
    await elb.restart();
    const s = await status(elb);
    expect(s.loaded).toBe(false);
    expect(await backendFor(elb, "disk.test")).toBe("A"); // from the snapshot
    expect(elb.errorLog()).toMatch(/last known good configuration: restored 2 keys at revision \d+/);
    await etcd.restart();
    await waitFor(async () => (await backendFor(elb, "disk.test")) === "B", 15000, "the catch-up");
    await elb.stop();
  }, 60_000);
});

describe("the fleet", () => {
  it("two nodes on one etcd converge to the same revision and resolve concurrent writes by etcd's order", async () => {
    const n1 = await startElb({ etcd: etcd.endpoint, elbName: "FLEET", env: { ELB_NODE_ID: "n1" } });
    const n2 = await startElb({ etcd: etcd.endpoint, elbName: "FLEET", env: { ELB_NODE_ID: "n2" } });
    await n1.request({ method: "PUT", path: "/__erulb__/upstream", body: { up1: { [a.addr]: "" }, up2: { [b.addr]: "" } } });
    const writes = [];
    for (let i = 0; i < 10; i++) {
      writes.push(n1.request({ method: "PUT", path: "/__erulb__/domain", body: { "race.test": JSON.parse(backendRules("up1")) } }));
      writes.push(n2.request({ method: "PUT", path: "/__erulb__/domain", body: { "race.test": JSON.parse(backendRules("up2")) } }));
    }
    for (const r of await Promise.all(writes)) expect(r.status).toBe(200);
    const inEtcd = JSON.parse((await etcdctl(etcd.endpoint, "get", "/FLEET/rules/race.test", "--print-value-only")).stdout);
    const head = Number(JSON.parse((await etcdctl(etcd.endpoint, "get", "/FLEET/rules/race.test", "-w", "json")).stdout).kvs[0].mod_revision);
    // a node applies its own writes at once, maybe before the watch brought it older changes
    // from the other node: wait until it has seen everything up to head
    const caughtUp = async (n: Elb) => {
      const s = await status(n);
      return s.revision >= head && s.workers.every((w: { applied_event: number }) => w.applied_event === s.last_event);
    };
    await waitFor(() => caughtUp(n1), 5000, "n1");
    await waitFor(() => caughtUp(n2), 5000, "n2");
    expect((await n1.request("/__erulb__/domain")).json["race.test"]).toEqual(inEtcd);
    expect((await n2.request("/__erulb__/domain")).json["race.test"]).toEqual(inEtcd);
    const want = inEtcd.rules.b.args.servername === "up1" ? "A" : "B";
    expect(await backendFor(n1, "race.test")).toBe(want);
    expect(await backendFor(n2, "race.test")).toBe(want);
    const [s1, s2] = [await status(n1), await status(n2)];
    expect(s1.config_revision).toBe(s2.config_revision);
    await n2.stop("SIGTERM");
    await n1.stop("SIGTERM");
  }, 60_000);

  it("a node's registry entry disappears when the node is killed, and at once when it stops", async () => {
    const killed = await startElb({ etcd: etcd.endpoint, elbName: "REG", env: { ELB_NODE_ID: "doomed" } });
    const stopped = await startElb({ etcd: etcd.endpoint, elbName: "REG", env: { ELB_NODE_ID: "polite" } });
    const keys = async () => (await etcdctl(etcd.endpoint, "get", "--prefix", "--keys-only", "/REG/nodes/")).stdout.split("\n").filter(Boolean).sort();
    await waitFor(async () => (await keys()).length === 2, 5000, "both nodes registered");
    expect(await keys()).toEqual(["/REG/nodes/doomed", "/REG/nodes/polite"]);
    await stopped.stop("SIGTERM");
    await waitFor(async () => !(await keys()).includes("/REG/nodes/polite"), 3000, "the stopped node to leave");
    killNginx(killed.prefix);
    const t0 = Date.now();
    await waitFor(async () => (await keys()).length === 0, 20000, "the killed node's lease to expire");
    expect(Date.now() - t0).toBeLessThan(15000);
    await killed.stop();
  }, 60_000);
});
