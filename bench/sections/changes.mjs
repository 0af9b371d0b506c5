// Section: configuration changes under load. wrk (keepalive) runs against ELB while one
// upstream (its servers' weights) or one domain (its path regex) changes 10 times a second
// through the admin API, and against plain nginx while the same upstream change is made by
// rewriting nginx.conf and reloading (SIGHUP, as `nginx -s reload` sends) 10 times a second;
// each against the same proxy with no change. Failed requests = non-2xx answers + socket errors.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { childrenOf, sleep } from "../../test/harness/index.mjs";
import { measure } from "../lib/measure.mjs";
import { cpuTree, round } from "../lib/procstat.mjs";
import { DOMAIN, ruleSet } from "../lib/rules.mjs";
import { startElb, startPlainNginx } from "../lib/servers.mjs";
import { fmt, int, median } from "../lib/stats.mjs";
import { checkAnswer } from "./proxy.mjs";

const RATE_HZ = 10;

/** Calls change(k) every 1/RATE_HZ s until `until`; a change still running skips the tick. */
async function storm(change, until) {
  const latencies = [];
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  const errors = [];
  let k = 0;
  const t0 = Date.now();
  let busy = false;
  const pending = [];
  while (Date.now() < until) {
    const due = t0 + k * (1000 / RATE_HZ);
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    if (Date.now() >= until) break;
    if (busy) {
      skipped += 1;
    } else {
      busy = true;
      const n = k;
      const s = Date.now();
      pending.push(
        Promise.resolve()
          .then(() => change(n))
          .then(
            () => {
              ok += 1;
              latencies.push(Date.now() - s);
            },
            (e) => {
              failed += 1;
              if (errors.length < 5) errors.push(String(e.message ?? e).slice(0, 200));
            },
          )
          .finally(() => (busy = false)),
      );
    }
    k += 1;
  }
  await Promise.all(pending);
  const secs = (Date.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    changes_ok: ok,
    changes_failed: failed,
    ticks_skipped: skipped,
    changes_per_s: ok / secs,
    change_ms_p50: median(latencies),
    change_ms_max: latencies[latencies.length - 1],
    errors,
  };
}

export default {
  id: "changes",
  title: "Configuration changes under load",
  async run(ctx) {
    const duration = ctx.quick ? 3 : 5;
    const rounds = ctx.quick ? 1 : 2;
    const backend = await ctx.shared.backend();
    const [b1, b2] = backend.addrs;
    const etcd = await ctx.shared.etcd();
    const statsd = await ctx.shared.statsd();
    const weights = (k) => (k % 2 === 0 ? [2, 1] : [1, 2]);
    const upstreamBody = (k) => {
      const [w1, w2] = weights(k);
      return { up1: { [b1]: `weight=${w1}`, [b2]: `weight=${w2}` } };
    };
    const paths = ["^/api/(\\S+)$", "^/api/(.+)$"];
    const elb = await startElb({ etcd: etcd.endpoint, elbName: "STORM", statsd: statsd.addr, cpu: ctx.cpus.proxy, waitLoaded: true });
    const procs = [elb];
    try {
      let r = await elb.api("PUT", "upstream", { ...upstreamBody(1), up2: { [b1]: "", [b2]: "" } });
      if (r.status !== 200) throw new Error(`upstream PUT: ${r.status} ${r.body}`);
      r = await elb.api("PUT", "domain", { [DOMAIN]: ruleSet() });
      if (r.status !== 200) throw new Error(`domain PUT: ${r.status} ${r.body}`);
      const nginxServers = (k) => {
        const [w1, w2] = weights(k);
        return [`${b1} weight=${w1}`, `${b2} weight=${w2}`];
      };
      const nginx = await startPlainNginx({ servers: nginxServers(1), cpu: ctx.cpus.proxy, logLevel: "notice" });
      procs.push(nginx);
      await checkAnswer("elb", elb);
      await checkAnswer("nginx", nginx);
      const api = async (resource, body) => {
        const x = await elb.api("PUT", resource, body);
        if (x.status !== 200) throw new Error(`${resource} PUT: ${x.status} ${x.body.slice(0, 200)}`);
      };
      let maxWorkers = 0;
      const reload = async (k) => {
        nginx.reload(nginx.confFor(nginxServers(k)));
        maxWorkers = Math.max(maxWorkers, childrenOf(nginx.masterPid).length);
      };
      const reloadsLogged = () => (readFileSync(join(nginx.dir, "logs/error.log"), "utf8").match(/SIGHUP\) received/g) ?? []).length;
      const scenarios = [
        { id: "elb-quiet", label: "ELB, no change", proxy: elb },
        { id: "elb-upstream", label: "ELB, upstream PUT 10×/s (weights swap)", proxy: elb, change: (k) => api("upstream", upstreamBody(k)) },
        { id: "elb-domain", label: "ELB, domain PUT 10×/s (path regex swap)", proxy: elb, change: (k) => api("domain", { [DOMAIN]: ruleSet({ path: paths[k % 2] }) }) },
        { id: "nginx-quiet", label: "plain nginx, no change", proxy: nginx },
        { id: "nginx-reload", label: "plain nginx, conf rewrite + reload 10×/s (weights swap)", proxy: nginx, change: reload },
      ];
      const opts = { host: DOMAIN, duration, connections: ctx.connections, cpu: ctx.cpus.load };
      for (const s of scenarios) await measure(s.proxy, { ...opts, duration: 1 });
      const out = {};
      for (const s of scenarios) out[s.id] = { label: s.label, runs: [] };
      for (let round = 0; round < rounds; round++) {
        for (const s of scenarios) {
          const before = s.id === "nginx-reload" ? reloadsLogged() : 0;
          maxWorkers = 0;
          const until = Date.now() + duration * 1000;
          const [m, st] = await Promise.all([measure(s.proxy, opts), s.change ? storm(s.change, until) : Promise.resolve(undefined)]);
          const run = { ...m, storm: st };
          if (s.id === "nginx-reload") {
            await sleep(300);
            run.storm.reloads_logged = reloadsLogged() - before;
            run.storm.max_nginx_processes = maxWorkers;
          }
          out[s.id].runs.push(run);
          ctx.log(`  round ${round + 1}/${rounds} ${s.id.padEnd(13)} ${String(Math.round(m.rps)).padStart(7)} req/s  p99 ${m.p99_ms.toFixed(2)} ms  max ${m.max_ms.toFixed(1)} ms  failed ${m.failed}${st ? `  changes ${st.changes_ok} ok, ${st.changes_failed} failed, ${st.ticks_skipped} skipped` : ""}`);
        }
      }
      for (const s of scenarios) {
        const runs = out[s.id].runs;
        out[s.id].rps = median(runs.map((x) => x.rps));
        out[s.id].p99_ms = median(runs.map((x) => x.p99_ms));
        out[s.id].max_ms = Math.max(...runs.map((x) => x.max_ms));
        out[s.id].requests = runs.reduce((a, x) => a + x.requests, 0);
        out[s.id].failed = runs.reduce((a, x) => a + x.failed, 0);
        if (s.change) {
          out[s.id].changes_ok = runs.reduce((a, x) => a + x.storm.changes_ok, 0);
          out[s.id].changes_failed = runs.reduce((a, x) => a + x.storm.changes_failed, 0);
          out[s.id].changes_per_s = median(runs.map((x) => x.storm.changes_per_s));
          out[s.id].change_ms_p50 = median(runs.map((x) => x.storm.change_ms_p50));
          out[s.id].change_ms_max = Math.max(...runs.map((x) => x.storm.change_ms_max ?? 0));
        }
      }
      // the CPU one change costs, with no traffic: every process of the proxy (nginx master and
      // workers, reaped ones included); etcd's own work for ELB's writes is not counted
      const idle = {};
      const idleSeconds = 2;
      for (const s of scenarios.filter((x) => x.change)) {
        const root = s.proxy === elb ? elb.masterPid() : nginx.masterPid;
        await sleep(500);
        const quiet0 = cpuTree(root);
        await sleep(idleSeconds * 1000);
        const quiet = cpuTree(root) - quiet0;
        const c0 = cpuTree(root);
        const st = await storm(s.change, Date.now() + idleSeconds * 1000);
        await sleep(500); // old nginx workers exit
        const used = cpuTree(root) - c0 - (quiet * (idleSeconds + 0.5)) / idleSeconds;
        idle[s.id] = { changes: st.changes_ok, cpu_ms_per_change: round((used / Math.max(1, st.changes_ok)) * 1000, 2), idle_cpu_ms_per_s: round((quiet / idleSeconds) * 1000, 2) };
        ctx.log(`  ${s.id} without traffic: ${idle[s.id].cpu_ms_per_change} ms of proxy CPU per change (${st.changes_ok} changes)`);
      }
      return { duration_s: duration, rounds, rate_hz: RATE_HZ, scenarios: out, order: scenarios.map((s) => s.id), cpu_per_change: idle };
    } finally {
      for (const p of procs.reverse()) await p.stop();
    }
  },

  targets(res) {
    const s = res.scenarios;
    return [
      { target: "no failed request while an upstream changes 10×/s (ELB)", value: `${s["elb-upstream"].failed} failed of ${int(s["elb-upstream"].requests)}`, met: s["elb-upstream"].failed === 0 },
      { target: "no failed request while a domain changes 10×/s (ELB)", value: `${s["elb-domain"].failed} failed of ${int(s["elb-domain"].requests)}`, met: s["elb-domain"].failed === 0 },
    ];
  },

  chart(res) {
    const s = res.scenarios;
    const base = s["nginx-quiet"].rps;
    return res.order.map((id) => ({ group: "Throughput during change storms (ratio to plain nginx, no change)", label: s[id].label.replace(/ \(.*\)$/, ""), ratio: s[id].rps / base }));
  },

  markdown(res) {
    const L = [];
    L.push(`wrk with keepalive (${res.duration_s} s per scenario, ${res.rounds} interleaved rounds) while one change is made ${res.rate_hz} times a second. ` +
      `ELB: \`PUT /__erulb__/upstream\` swapping the weights of up1's two servers, or \`PUT /__erulb__/domain\` swapping the domain's path regex between two that both match ` +
      `(each PUT answers after every worker applied it; a change still running when the next is due skips that tick). ` +
      `Plain nginx: the same weight swap written to nginx.conf, then SIGHUP to the master (what \`nginx -s reload\` does). ` +
      `Failed = non-2xx answers + connect/read/write errors + timeouts, as wrk counts them.`, "");
    L.push("| scenario | req/s | p99 ms | max ms | requests | failed | changes made | changes/s | change latency p50 / max ms |");
    L.push("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for (const id of res.order) {
      const s = res.scenarios[id];
      const ch = s.changes_ok !== undefined ? `${s.changes_ok}${s.changes_failed ? ` (+${s.changes_failed} refused)` : ""}` : "";
      const lat = s.change_ms_p50 !== undefined && id.startsWith("elb") ? `${fmt(s.change_ms_p50, 0)} / ${fmt(s.change_ms_max, 0)}` : id === "nginx-reload" ? "(signal only)" : "";
      L.push(`| ${s.label} | ${int(s.rps)} | ${fmt(s.p99_ms, 2)} | ${fmt(s.max_ms, 1)} | ${int(s.requests)} | ${s.failed} | ${ch} | ${s.changes_per_s !== undefined ? fmt(s.changes_per_s, 1) : ""} | ${lat} |`);
    }
    if (res.cpu_per_change) {
      const c = res.cpu_per_change;
      L.push("", `CPU one change costs the proxy, measured with no traffic (${Object.values(c)[0]?.changes ?? "?"} changes at 10/s; all of the proxy's processes, exited nginx workers included, minus its idle CPU; etcd's work for ELB's writes not counted): ` +
        Object.entries(c).map(([id, x]) => `${res.scenarios[id].label.replace(/ \(.*\)$/, "").replace(/ 10×\/s/, "")}: **${fmt(x.cpu_ms_per_change, 2)} ms**`).join("; ") + ".");
    }
    const nr = res.scenarios["nginx-reload"];
    if (nr.runs) {
      const logged = nr.runs.reduce((a, x) => a + (x.storm.reloads_logged ?? 0), 0);
      const maxp = Math.max(...nr.runs.map((x) => x.storm.max_nginx_processes ?? 0));
      const errs = nr.runs.map((x) => x.socket_errors);
      L.push("", `nginx logged ${logged} reloads for ${nr.changes_ok} SIGHUPs sent; up to ${maxp} nginx worker processes were alive at once ` +
        `(old workers finish their requests while new ones start). wrk's socket errors during reloads: ${errs.map((e) => `connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout}`).join("; ")}.`);
    }
    return L.join("\n");
  },
};
