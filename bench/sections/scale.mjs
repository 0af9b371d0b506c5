// Section: scale. ELBs (one worker each, statsd on) with 1, 10,000 and 100,000 domains (the
// same rule graph everywhere), loaded cold from etcd; plus 1 and 100,000 domains with statsd
// off, to tell the cost of the domains from the cost of per-domain metrics. wrk spreads its
// requests over the domains (a Lua request generator picks the Host per request);
// interleaved runs; worker memory at each size; cold load time (launch.sh started ->
// /__erulb__/status says loaded with every domain, on every worker).
//
// An ELB that stops answering (no request served in a run) is stopped at once and left out
// of the next rounds, so a worker spinning on the shared core does not skew the others; what
// its error log said is kept as evidence.
import { measure, describe, ratiosTo, workerMemory } from "../lib/measure.mjs";
import { memOf, round } from "../lib/procstat.mjs";
import { SPREAD_FMT, domainEntries, spreadDomain, upstreamEntries } from "../lib/rules.mjs";
import { bulkPut, startElb, waitLoaded } from "../lib/servers.mjs";
import { fmt, int, median, pct, ratio } from "../lib/stats.mjs";
import { checkAnswer } from "./proxy.mjs";

const EVIDENCE = [
  ["etcd_unreachable", /etcd unreachable/g],
  ["lost_lead", /lost the lead/g],
  ["full_reapply", /reapplying the whole configuration/g],
  ["full_loads", /loaded \d+ keys from etcd/g],
  ["sleep0_warnings", /ngx\.sleep\(0\) called without delayed events patch/g],
];

function evidence(log) {
  const out = {};
  for (const [k, re] of EVIDENCE) out[k] = (log.match(re) ?? []).length;
  return out;
}

export default {
  id: "scale",
  title: "Scale: 1, 10,000 and 100,000 domains",
  async run(ctx) {
    const configs = ctx.quick
      ? [{ n: 1, statsd: true }, { n: 10000, statsd: true }, { n: 1, statsd: false }, { n: 10000, statsd: false }]
      : [{ n: 1, statsd: true }, { n: 10000, statsd: true }, { n: 100000, statsd: true }, { n: 1, statsd: false }, { n: 100000, statsd: false }, { n: 10000, statsd: true, distinct: true }];
    const rounds = ctx.quick ? 2 : 3;
    const duration = ctx.quick ? 2 : 3;
    const backend = await ctx.shared.backend();
    const etcd = await ctx.shared.etcd();
    const statsd = await ctx.shared.statsd();
    const res = { configs: [], rounds, duration_s: duration };
    const written = new Map();
    const live = [];
    try {
      for (const c of configs) {
        // one etcd prefix per ELB: two nodes on one prefix would be a fleet and see each other
        const name = `SCALE${c.n}${c.statsd ? "" : "NOSTATSD"}${c.distinct ? "DISTINCT" : ""}`;
        await bulkPut(etcd, upstreamEntries(name, { up1: { [backend.addrs[0]]: "" }, up2: { [backend.addrs[0]]: "" } }));
        const writeS = await bulkPut(etcd, domainEntries(name, c.n, 1, { distinct: c.distinct }));
        if (!written.has(c.n)) written.set(c.n, writeS);
        ctx.log(`  ${int(c.n)} domains written to etcd under /${name}/ in ${fmt(writeS, 1)} s (transactions of 128 puts, 8 at a time)`);
        const elb = await startElb({ etcd: etcd.endpoint, elbName: name, statsd: c.statsd ? statsd.addr : undefined, cpu: ctx.cpus.proxy });
        await waitLoaded(elb, c.n, 300000);
        const cold = (Date.now() - elb.startedAt) / 1000;
        const id = `${c.n}${c.statsd ? "" : "-nostatsd"}${c.distinct ? "-distinct" : ""}`;
        elb.name = id;
        const entry = { id, domains: c.n, statsd: c.statsd, distinct: !!c.distinct, etcd_write_s: writeS, cold_load_s: round(cold, 2), memory_loaded: workerMemory(elb), master_rss_kb: memOf(elb.masterPid())?.rss, runs: [] };
        ctx.log(`  ${id}: cold load ${fmt(cold, 2)} s, worker RSS ${entry.memory_loaded.map((m) => fmt(m.rss_kb / 1024)).join("/")} MiB`);
        await checkAnswer(id, elb, spreadDomain(c.n));
        res.configs.push(entry);
        live.push({ entry, elb, opts: { generator: "wrk-spread.lua", env: { WRK_DOMAINS: String(c.n), WRK_DOMAIN_FMT: SPREAD_FMT }, duration, connections: ctx.connections, cpu: ctx.cpus.load } });
      }
      for (const t of live) await measure(t.elb, { ...t.opts, duration: 1 });
      for (let r = 0; r < rounds; r++) {
        for (const t of live) {
          if (t.entry.stalled) continue;
          const s0 = statsd.snapshot();
          const m = await measure(t.elb, t.opts);
          const s1 = statsd.snapshot();
          // only this ELB has traffic now; the idle ones send nothing
          m.statsd_lines_per_s = round((s1.lines - s0.lines) / duration, 0);
          m.statsd_datagrams_per_s = round((s1.datagrams - s0.datagrams) / duration, 0);
          t.entry.runs.push(m);
          ctx.log(`  domains round ${r + 1}/${rounds} ${describe(t.entry.id, m)}`);
          if (m.requests === 0) {
            t.entry.stalled = { round: r + 1, worker_cpu_util: m.cpu_util };
            t.entry.memory_after = workerMemory(t.elb);
            t.entry.evidence = evidence(t.elb.errorLog());
            t.entry.log_excerpt = t.elb.errorLog().split("\n").filter((l) => l && !/ngx\.sleep\(0\)/.test(l)).slice(-8).map((l) => l.slice(0, 300));
            ctx.log(`  ${t.entry.id}: answered no request in ${duration} s while its worker used ${pct(m.cpu_util, 0)} of a core; stopped. Error log: ${JSON.stringify(t.entry.evidence)}`);
            await t.elb.stop();
          }
        }
      }
      const base = (statsdOn) => res.configs.find((e) => e.domains === 1 && e.statsd === statsdOn && !e.stalled && !e.distinct);
      for (const t of live) {
        const e = t.entry;
        const runs = e.runs;
        e.median = {};
        for (const k of ["rps", "p50_ms", "p99_ms", "cpu_us_per_req", "cpu_util", "statsd_lines_per_s", "statsd_datagrams_per_s"]) e.median[k] = round(median(runs.map((x) => x[k])), 3);
        e.failed = runs.reduce((a, x) => a + x.failed, 0);
        const b = base(e.statsd);
        if (b && !e.stalled) e.ratio_to_1 = ratiosTo({ a: e, b }, "a", "b");
        if (!e.stalled) {
          e.memory_after = workerMemory(t.elb);
          e.evidence = evidence(t.elb.errorLog());
        }
      }
      return res;
    } finally {
      for (const t of live.reverse()) await t.elb.stop();
    }
  },

  targets(res) {
    const alike = res.configs.filter((e) => !e.distinct);
    const on = alike.filter((e) => e.statsd);
    const off = alike.filter((e) => !e.statsd);
    const big = on[on.length - 1];
    const bigOff = off[off.length - 1];
    const value = (e) => (e.stalled ? `stopped answering (0 requests in round ${e.stalled.round}, worker at ${pct(e.stalled.worker_cpu_util, 0)} CPU)` : `${pct(e.ratio_to_1?.rps)} of 1 domain's req/s (CPU per request ${ratio(e.ratio_to_1?.cpu_us_per_req)})`);
    const met = (e, share) => (e.domains < 100000 ? null : e.stalled ? false : e.ratio_to_1.rps >= share);
    const out = [{ target: `throughput at ${int(big.domains)} domains ≥ 90% of 1 domain's (statsd on)`, value: value(big), met: met(big, 0.9) }];
    if (bigOff && bigOff.domains > 1) out.push({ target: `throughput at ${int(bigOff.domains)} domains ≥ 97% of 1 domain's (statsd off)`, value: value(bigOff), met: met(bigOff, 0.97) });
    const at100k = [big].filter((e) => e && e.domains >= 100000);
    for (const e of at100k) out.push({ target: `cold load of ${int(e.domains)} domains ≤ 2 s`, value: `${fmt(e.cold_load_s, 2)} s`, met: e.cold_load_s <= 2 });
    for (const e of at100k) {
      const rss = Math.max(...e.memory_loaded.map((w) => w.rss_kb / 1024));
      out.push({ target: `worker memory at ${int(e.domains)} domains ≤ 60 MiB RSS`, value: `${fmt(rss)} MiB RSS after the load (${fmt(Math.max(...(e.memory_after ?? e.memory_loaded).map((w) => w.rss_kb / 1024)))} after the runs)`, met: rss <= 60 });
    }
    return out;
  },

  chart(res) {
    return res.configs
      .filter((e) => e.domains > 1)
      .map((e) => ({ group: "ELB throughput by domains configured (ratio to 1 domain)", label: `${int(e.domains)}${e.statsd ? "" : ", statsd off"}`, ratio: e.stalled ? 0 : e.ratio_to_1?.rps }));
  },

  chartTargets() {
    return { "ELB throughput by domains configured (ratio to 1 domain)": { value: 0.97, label: "target ≥ 0.97" } };
  },

  markdown(res) {
    const L = [];
    L.push(`Each row is its own ELB (one worker) loading its domains from etcd at start; the domains all have the rule graph of the proxy section (the row "each its own rule set": the same walk, but no two rule-set texts alike, so nothing is shared between domains: \`bench/lib/rules.mjs\` distinctRuleSet). ` +
      `wrk picks the Host of every request at random among the domains (\`bench/lua/wrk-spread.lua\`, also for 1 domain, so the load generator does the same work at every size); ` +
      `${res.rounds} interleaved rounds of ${res.duration_s} s. Cold load: from starting \`nginx/launch.sh\` until \`/__erulb__/status\` says loaded, with every domain, on every worker. ` +
      `Ratios are to the 1-domain ELB with the same statsd setting.`, "");
    L.push("| domains | statsd | req/s | p50 ms | p99 ms | CPU µs/req | req/s vs 1 domain | CPU/req vs 1 domain | statsd lines/s (datagrams/s) | cold load s | etcd write s | worker RSS MiB (loaded / after the runs) | worker PSS MiB | master RSS MiB |");
    L.push("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const e of res.configs) {
      const m = e.median;
      const rss = e.memory_loaded.map((w, i) => `${fmt(w.rss_kb / 1024)} / ${fmt(e.memory_after?.[i]?.rss_kb / 1024)}`).join(", ");
      const pss = (e.memory_after ?? []).map((w) => fmt(w.pss_kb / 1024)).join(", ");
      const vs = e.stalled ? `**stopped answering** in round ${e.stalled.round}` : `${pct(e.ratio_to_1?.rps)}`;
      L.push(`| ${int(e.domains)}${e.distinct ? " (each its own rule set)" : ""} | ${e.statsd ? "on" : "off"} | ${int(m.rps)} | ${fmt(m.p50_ms, 2)} | ${fmt(m.p99_ms, 2)} | ${fmt(m.cpu_us_per_req, 2)} | ${vs} | ${e.stalled ? "" : ratio(e.ratio_to_1?.cpu_us_per_req)} | ${e.statsd ? `${int(m.statsd_lines_per_s)} (${int(m.statsd_datagrams_per_s)})` : ""} | ${fmt(e.cold_load_s, 2)} | ${fmt(e.etcd_write_s, 1)} | ${rss} | ${pss} | ${fmt(e.master_rss_kb / 1024)} |`);
    }
    const stalled = res.configs.filter((e) => e.stalled);
    for (const e of stalled) {
      L.push("", `**${int(e.domains)} domains, statsd ${e.statsd ? "on" : "off"}: the worker stopped answering** in round ${e.stalled.round} (no request completed in ${res.duration_s} s while the worker used ${pct(e.stalled.worker_cpu_util, 0)} of its core); ` +
        `the benchmark stopped it. Its error log counted: ${Object.entries(e.evidence ?? {}).map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`).join(", ")}. Last lines:`, "");
      L.push("```", ...(e.log_excerpt ?? []), "```");
    }
    const others = res.configs.filter((e) => !e.stalled && e.evidence && (e.evidence.etcd_unreachable || e.evidence.lost_lead || e.evidence.full_reapply));
    for (const e of others) {
      L.push("", `${int(e.domains)} domains, statsd ${e.statsd ? "on" : "off"}, kept answering but its error log counted: ${Object.entries(e.evidence).map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`).join(", ")}.`);
    }
    return L.join("\n");
  },
};
