// Faults under load (a bounded rate, failures counted): SIGKILL of a worker and of a backend,
// SIGSTOP/SIGCONT and a restart of etcd, a 3-member etcd cluster losing its leader while
// changes keep coming (each change applied in order on every worker, compared with etcd), and
// slow clients holding many connections while others are served.
import net from "node:net";
import { join } from "node:path";
import { freePort, REPO_ROOT, sleep, start, startElb, startEtcd, stop, stopAll, waitFor, type Elb, type Proc } from "../../test/harness/index.mjs";
import { startEtcdCluster, stopFleet } from "../../test/e2e/fleet";
import { putRaw } from "../lib/etcd-state";
import { load } from "../lib/load";
import { connectEachWorker } from "../lib/per-worker";
import { Tally } from "../lib/tally";
import { LogWatch } from "../lib/watch";
import type { Options } from "../run";

type Problem = { what: string; detail?: string; severity?: number };
const RATE = 200;

async function backendProc(name: string, port: number): Promise<Proc> {
  const p = start(`backend ${name}`, process.execPath, [join(REPO_ROOT, "chaos/lib/backend-proc.mjs"), String(port), name], { stopSignal: "SIGKILL" });
  await waitFor(() => p.output().includes("listening"), 5000, `backend ${name}`);
  return p;
}

const rules = (version: string) => ({ init: "b", rules: { b: { type: "backend", args: { servername: "fup", "X-Version": version } } } });

/** Until every worker of `elb` applied the node's last event (the status API says so). */
async function everyWorkerApplied(elb: Elb, ms: number): Promise<boolean> {
  return waitFor(async () => {
    const s = (await elb.api("GET", "status")).json;
    return s.workers.every((w: { applied_event: number }) => w.applied_event >= s.last_event) && s.etcd === "connected";
  }, ms, "every worker to apply").then(() => true, () => false);
}

/** The version dom.test is at for every worker, read through a connection to each. */
async function versions(elb: Elb, domain: string): Promise<string[]> {
  const conns = await connectEachWorker(elb.port, 2);
  const out: string[] = [];
  for (const c of conns) {
    const d = await c.get("/__erulb__/domain");
    out.push(String(d?.[domain]?.rules?.b?.args?.["X-Version"] ?? "none"));
    c.close();
  }
  return out;
}

export async function run(opts: Options): Promise<Tally> {
  let step = "start";
  try {
    return await faults(opts, (s) => (step = s));
  } catch (e) {
    throw new Error(`faults, at "${step}": ${e instanceof Error ? e.stack : e}`);
  }
}

async function faults(opts: Options, at: (step: string) => void): Promise<Tally> {
  const t = new Tally("faults", "Faults under load");
  const ms = opts.quick ? 2000 : 4000;
  const etcd = await startEtcd();
  const ports = [await freePort(), await freePort()];
  const backends = [await backendProc("F1", ports[0]), await backendProc("F2", ports[1])];
  const elb = await startElb({ etcd: etcd.endpoint, workers: 2, env: opts.env });
  const log = LogWatch.of(elb);
  const crashLines = (problems: Problem[], allowed: RegExp[] = []) => {
    for (const line of log.crashes([], [/exited on signal 9/, ...allowed])) problems.push({ what: "crash or Lua error in the error log", detail: line, severity: 9 });
  };
  const figures: Record<string, unknown> = {};
  try {
    at("setup");
    await elb.waitLoaded(15000);
    await elb.api("PUT", "upstream", { fup: { [`127.0.0.1:${ports[0]}`]: "", [`127.0.0.1:${ports[1]}`]: "" } });
    await elb.api("PUT", "domain", { "f.test": rules("0") });
    let version = 0;

    // ---- SIGKILL of a worker: the leader, then the other
    for (const which of ["the leading worker", "a worker that does not lead"]) {
      at(`SIGKILL of ${which}`);
      const s = (await elb.api("GET", "status")).json;
      const pid = which.startsWith("the leading") ? s.leader_pid : elb.workers().find((p) => p !== s.leader_pid);
      const l = load(elb.port, "f.test", RATE, ms);
      await sleep(ms / 3);
      process.kill(pid, "SIGKILL");
      await sleep(300);
      version++;
      at(`SIGKILL of ${which}: the change after it`);
      const put = await elb.api("PUT", "domain", { "f.test": rules(String(version)) });
      const r = await l.done;
      const problems: Problem[] = [];
      // in flight on the killed worker: at most its share of the requests of a moment
      if (r.failed > 10) problems.push({ what: "more requests failed than were in flight", detail: `${r.failed} of ${r.sent}: ${r.failures.slice(0, 3).join("; ")}`, severity: 7 });
      if (put.status !== 200) problems.push({ what: "a change after the kill was not acknowledged", detail: `${put.status} ${put.body.slice(0, 150)}`, severity: 8 });
      at(`SIGKILL of ${which}: every worker's view`);
      // every worker (the one started in place of the killed one too) within 2 s
      let vs: string[] = [];
      const all = await waitFor(async () => {
        vs = await versions(elb, "f.test");
        return vs.length === 2 && vs.every((v) => v === String(version));
      }, 2000, "every worker to serve the change").then(() => true, () => false);
      if (!all) problems.push({ what: "a worker does not serve the change made after the kill", detail: vs.join(","), severity: 9 });
      crashLines(problems, [/worker process \d+ exited on signal 9/]);
      figures[`kill ${which}`] = { sent: r.sent, failed: r.failed };
      t.count(`SIGKILL of ${which} (pid ${pid}) under ${RATE} req/s`, problems);
      await sleep(500);
    }

    // ---- SIGKILL of a backend: the other one takes every request
    {
      const l = load(elb.port, "f.test", RATE, ms);
      await sleep(ms / 3);
      backends[0].child.kill("SIGKILL");
      const r = await l.done;
      const problems: Problem[] = [];
      if (r.failed > 0) problems.push({ what: "requests failed while another backend was up", detail: `${r.failed} of ${r.sent}: ${r.failures.slice(0, 3).join("; ")}`, severity: 7 });
      crashLines(problems, [/connect\(\) failed|upstream prematurely closed|recv\(\) failed/]);
      figures["kill a backend"] = { sent: r.sent, failed: r.failed };
      t.count(`SIGKILL of one of two backends under ${RATE} req/s`, problems);
      await stop(backends[0]);
      backends[0] = await backendProc("F1", ports[0]);
    }

    // ---- SIGSTOP / SIGCONT of etcd, then a restart: traffic goes on, writes answer in time
    for (const fault of ["SIGSTOP for 3 s, then SIGCONT", "a restart"]) {
      const l = load(elb.port, "f.test", RATE, ms + 3000);
      await sleep(500);
      const problems: Problem[] = [];
      let write: { status: number; ms: number } | undefined;
      if (fault.startsWith("SIGSTOP")) {
        etcd.kill("SIGSTOP");
        const t0 = Date.now();
        const w = await elb.api("PUT", "domain", { "stopped.test": rules("s") });
        write = { status: w.status, ms: Date.now() - t0 };
        await sleep(Math.max(0, 3000 - (Date.now() - t0)));
        etcd.kill("SIGCONT");
        if (write.status !== 504 && write.status !== 503 && write.status !== 200) problems.push({ what: "a write while etcd hung got an unclear answer", detail: `${write.status}`, severity: 7 });
        if (write.ms > 10000) problems.push({ what: "a write while etcd hung took longer than 10 s", detail: `${write.ms} ms`, severity: 7 });
      } else {
        await etcd.restart();
      }
      version++;
      const t1 = Date.now();
      await putRaw(etcd.endpoint, "/ELB/rules/f.test", JSON.stringify(rules(String(version))));
      const applied = await waitFor(async () => (await versions(elb, "f.test")).every((v) => v === String(version)), 15000, "the change after the fault").then(() => Date.now() - t1, () => -1);
      const r = await l.done;
      if (r.failed > 0) problems.push({ what: "traffic failed while etcd was in trouble", detail: `${r.failed} of ${r.sent}: ${r.failures.slice(0, 3).join("; ")}`, severity: 8 });
      if (applied < 0) problems.push({ what: "a change after etcd came back was not applied within 15 s", severity: 9 });
      crashLines(problems, [/etcd/]);
      figures[`etcd ${fault}`] = { sent: r.sent, failed: r.failed, write, changeAppliedAfterMs: applied };
      t.count(`etcd: ${fault}, under ${RATE} req/s`, problems);
    }

    // ---- slow clients holding many connections while others are served
    {
      const slow: net.Socket[] = [];
      const n = opts.quick ? 300 : 2000;
      for (let i = 0; i < n; i++) {
        const s = net.connect(elb.port, "127.0.0.1");
        s.on("error", () => {});
        s.on("connect", () => s.write(i % 2 === 0 ? "GET / HTTP/1.1\r\nHost: f.test\r\nX-Slow: " : "GET / HTTP/1.1\r\nHost: f.test\r\n\r\n"));
        s.pause(); // never reads its answer
        slow.push(s);
      }
      const drip = setInterval(() => {
        for (const s of slow) if (!s.destroyed) s.write("a");
      }, 1000);
      await sleep(500);
      const r = await load(elb.port, "f.test", RATE, ms).done;
      clearInterval(drip);
      for (const s of slow) s.destroy();
      const problems: Problem[] = [];
      if (r.failed > 0) problems.push({ what: "others were not served while slow clients held connections", detail: `${r.failed} of ${r.sent}`, severity: 8 });
      if (r.p99ms > 500) problems.push({ what: "p99 latency over 500 ms while slow clients held connections", detail: `${r.p99ms} ms`, severity: 6 });
      crashLines(problems);
      figures["slow clients"] = { connections: n, sent: r.sent, failed: r.failed, p99ms: r.p99ms, maxMs: r.maxMs };
      t.count(`${n} slow clients (half dripping headers, half never reading) and ${RATE} req/s of others`, problems);
    }
    await elb.stop();

    // ---- a 3-member cluster loses its leader while changes keep coming
    {
      const cluster = await startEtcdCluster(3);
      const node = await startElb({ etcd: cluster.endpoints, elbName: "ELB", workers: 2, env: opts.env });
      await node.waitLoaded(20000);
      const conns = await connectEachWorker(node.port, 2);
      const seen: Record<number, number[]> = {};
      let stopWatching = false;
      const watcher = (async () => {
        while (!stopWatching) {
          for (const c of conns) {
            const d = await c.get("/__erulb__/domain").catch(() => undefined);
            const v = Number(d?.["seq.test"]?.rules?.b?.args?.["X-Version"] ?? 0);
            (seen[c.pid] ??= []).push(v);
          }
          await sleep(5);
        }
      })();
      const acked: number[] = [];
      const leader = await cluster.leader();
      const changes = opts.quick ? 100 : 300;
      let killedAt = -1;
      for (let i = 1; i <= changes; i++) {
        if (i === Math.floor(changes / 3)) {
          cluster.kill(leader);
          killedAt = i;
        }
        const alive = cluster.members.filter((m) => m.proc.alive());
        for (let tries = 0; tries < 50; tries++) {
          const m = alive[(i + tries) % alive.length];
          try {
            await putRaw(m.endpoint, "/ELB/rules/seq.test", JSON.stringify(rules(String(i))));
            await putRaw(m.endpoint, `/ELB/rules/k${i}.test`, JSON.stringify(rules(String(i))));
            acked.push(i);
            break;
          } catch {
            await sleep(50);
          }
        }
        await sleep(10);
      }
      const last = acked[acked.length - 1];
      const problems: Problem[] = [];
      const caught = await waitFor(async () => {
        for (const c of conns) {
          const d = await c.get("/__erulb__/domain");
          if (Number(d?.["seq.test"]?.rules?.b?.args?.["X-Version"]) !== last) return false;
        }
        return true;
      }, 15000, "every worker to reach the last change").then(() => true, () => false);
      stopWatching = true;
      await watcher;
      if (!caught) problems.push({ what: "a worker did not reach the last change within 15 s", severity: 9 });
      for (const [pid, vs] of Object.entries(seen)) {
        for (let i = 1; i < vs.length; i++) if (vs[i] < vs[i - 1]) problems.push({ what: "a worker applied changes out of order", detail: `worker ${pid}: ${vs[i - 1]} then ${vs[i]}`, severity: 10 });
      }
      for (const c of conns) {
        const d = await c.get("/__erulb__/domain");
        const missing = acked.filter((i) => d?.[`k${i}.test`] === undefined);
        if (missing.length) problems.push({ what: "a change etcd acknowledged is missing on a worker", detail: `worker ${c.pid}: ${missing.slice(0, 10).join(",")}`, severity: 10 });
        c.close();
      }
      figures["etcd leader lost"] = { changes: acked.length, leaderKilledAtChange: killedAt, samplesPerWorker: Object.values(seen).map((v) => v.length) };
      t.count(`3-member etcd cluster, its leader SIGKILLed at change ${killedAt} of ${changes}`, problems);
      await node.stop();
      await stopFleet();
    }
    t.figures = figures;
    t.notes.push(`load: ${RATE} req/s through keep-alive connections for ${ms / 1000} s per fault`);
  } finally {
    await stopAll();
  }
  return t;
}
