// Durability: a change the API acknowledged survives a graceful stop and a crash (SIGKILL of
// nginx, master and workers), the node being started again while etcd is unreachable. Then
// the window: a change written straight to etcd, the node killed d ms later, for growing d.
import { freePort, killNginx, sleep, startBackend, startElb, startEtcd, stopAll, type Elb } from "../../test/harness/index.mjs";
import { putRaw } from "../lib/etcd-state";
import { Tally } from "../lib/tally";
import type { Options } from "../run";

const rules = (backend: string, version: number) => ({ init: "b", rules: { b: { type: "backend", args: { servername: backend, "X-Version": String(version) } } } });

/** The version the node serves for dur.test, read through traffic and through the API. */
async function served(elb: Elb): Promise<{ traffic: string; api: string }> {
  const r = await elb.request({ path: "/", headers: { Host: "dur.test" } });
  const api = await elb.api("GET", "domain");
  return { traffic: String(r.json?.headers?.["x-version"] ?? `status ${r.status}`), api: String(api.json?.["dur.test"]?.rules?.b?.args?.["X-Version"] ?? "none") };
}

async function crash(elb: Elb): Promise<void> {
  try {
    killNginx(elb.prefix);
  } catch {
    /* no pid file yet */
  }
  elb.kill("SIGKILL");
  await elb.stop();
}

export async function run(opts: Options): Promise<Tally> {
  const t = new Tally("durability", "Durability");
  const rounds = opts.quick ? 2 : 6;
  const etcd = await startEtcd();
  const backend = await startBackend("dur");
  const dead = `127.0.0.1:${await freePort()}`;
  let version = 0;
  try {
    let elb = await startElb({ etcd: etcd.endpoint, workers: 2, env: opts.env });
    const prefix = elb.prefix;
    const port = elb.port;
    const again = (etcdAt: string) => startElb({ etcd: etcdAt, workers: 2, env: opts.env, prefix, port });
    for (const how of ["graceful stop (SIGTERM)", "crash (SIGKILL of nginx)"]) {
      for (let i = 0; i < rounds; i++) {
        await elb.waitLoaded(15000);
        version++;
        const put = await elb.api("PUT", "domain", { "dur.test": rules(backend.addr, version) });
        const name = `${how}, round ${i + 1}: version ${version} acknowledged (${put.status}), then stopped at once`;
        if (put.status !== 200) {
          t.count(name, [{ what: "the write was not acknowledged", detail: put.body }]);
          continue;
        }
        if (how.startsWith("graceful")) await elb.stop("SIGTERM");
        else await crash(elb);
        elb = await again(dead);
        const s = await served(elb);
        const problems = [];
        if (s.traffic !== String(version) || s.api !== String(version)) {
          problems.push({ what: "an acknowledged change was lost", detail: `restarted without etcd, serves version ${s.traffic} (API: ${s.api}), acknowledged ${version}`, severity: 10 });
        }
        t.count(name, problems);
        await elb.stop();
        elb = await again(etcd.endpoint);
      }
    }
    // the window for a change made elsewhere (etcdctl, another node): how long after etcd took
    // it a crash may still lose it
    const windows: Record<string, string> = {};
    let lostAfter = -1;
    for (const delay of [0, 5, 20, 50, 100, 200]) {
      await elb.waitLoaded(15000);
      version++;
      await putRaw(etcd.endpoint, "/ELB/rules/dur.test", JSON.stringify(rules(backend.addr, version)));
      await sleep(delay);
      await crash(elb);
      elb = await again(dead);
      const s = await served(elb);
      const kept = s.traffic === String(version);
      windows[`${delay} ms`] = kept ? "kept" : `lost (served ${s.traffic})`;
      if (!kept) lostAfter = delay;
      const name = `a change written to etcd, the node killed ${delay} ms later`;
      t.count(name, !kept && delay >= 100 ? [{ what: "a change etcd held for 100 ms or more was lost in a crash", detail: windows[`${delay} ms`], severity: 8 }] : []);
      await elb.stop();
      elb = await again(etcd.endpoint);
    }
    t.figures.crashWindow = windows;
    t.figures.lostWhenKilledAfterMs = lostAfter;
    t.notes.push(`${rounds} rounds each of: PUT a new rule set, stop at once (graceful, then SIGKILL of every nginx process), start again with etcd unreachable, check what is served`);
    await elb.stop();
  } finally {
    await stopAll();
  }
  return t;
}
