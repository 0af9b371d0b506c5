// Section: scale. Three ELBs (one worker each, statsd on) with 1, 10,000 and 100,000 domains
// (same rule graph everywhere), loaded cold from etcd; wrk spreads its requests over the
// domains (a Lua request generator picks the Host per request); interleaved runs; worker
// memory at each size; cold load time (launch.sh started -> /__erulb__/status says loaded
// with every domain, on every worker).
import { interleave, measure, ratiosTo, workerMemory } from "../lib/measure.mjs";
import { memOf } from "../lib/procstat.mjs";
import { SPREAD_FMT, domainEntries, spreadDomain, upstreamEntries } from "../lib/rules.mjs";
import { bulkPut, startElb, waitLoaded } from "../lib/servers.mjs";
import { fmt, int, pct, ratio } from "../lib/stats.mjs";
import { checkAnswer } from "./proxy.mjs";

export default {
  id: "scale",
  title: "Scale: 1, 10,000 and 100,000 domains",
  async run(ctx) {
    const sizes = ctx.quick ? [1, 10000] : [1, 10000, 100000];
    const rounds = ctx.quick ? 2 : 3;
    const duration = ctx.quick ? 2 : 4;
    const backend = await ctx.shared.backend();
    const etcd = await ctx.shared.etcd();
    const statsd = await ctx.shared.statsd();
    const elbs = [];
    const res = { sizes: [], rounds, duration_s: duration };
    try {
      for (const n of sizes) {
        const name = `SCALE${n}`;
        await bulkPut(etcd, upstreamEntries(name, { up1: { [backend.addrs[0]]: "" }, up2: { [backend.addrs[0]]: "" } }));
        const writeS = await bulkPut(etcd, domainEntries(name, n));
        ctx.log(`  ${int(n)} domains written to etcd in ${fmt(writeS, 1)} s (transactions of 128 puts, 8 at a time)`);
        const elb = await startElb({ etcd: etcd.endpoint, elbName: name, statsd: statsd.addr, cpu: ctx.cpus.proxy });
        await waitLoaded(elb, n, 300000);
        const cold = (Date.now() - elb.startedAt) / 1000;
        elb.name = `${int(n)} domains`;
        elbs.push(elb);
        const status = await elb.status();
        const memLoaded = workerMemory(elb);
        const master = memOf(elb.masterPid()) ?? {};
        ctx.log(`  ${int(n)} domains: cold load ${fmt(cold, 2)} s, worker RSS ${memLoaded.map((m) => fmt(m.rss_kb / 1024)).join("/")} MiB`);
        await checkAnswer(elb.name, elb, spreadDomain(n));
        res.sizes.push({ domains: n, etcd_write_s: writeS, cold_load_s: cold, status_domains: status.domains, memory_loaded: memLoaded, master_rss_kb: master.rss });
      }
      const targets = elbs.map((elb, i) => ({
        id: String(sizes[i]),
        proxy: elb,
        opts: { generator: "wrk-spread.lua", env: { WRK_DOMAINS: String(sizes[i]), WRK_DOMAIN_FMT: SPREAD_FMT }, duration, connections: ctx.connections, cpu: ctx.cpus.load },
      }));
      for (const t of targets) await measure(t.proxy, { ...t.opts, duration: 1 });
      const r = await interleave(targets, { rounds, log: ctx.log, label: "domains " });
      res.runs = r;
      for (let i = 0; i < sizes.length; i++) {
        const s = res.sizes[i];
        s.median = r[String(sizes[i])].median;
        s.ratio_to_1 = ratiosTo(r, String(sizes[i]), "1");
        s.memory_after = workerMemory(elbs[i]);
      }
      return res;
    } finally {
      for (const e of elbs.reverse()) await e.stop();
    }
  },

  targets(res) {
    const big = res.sizes[res.sizes.length - 1];
    return [{ target: `throughput at ${int(big.domains)} domains within 3% of 1 domain`, value: `${pct(big.ratio_to_1.rps)} of 1 domain's req/s (CPU per request ${ratio(big.ratio_to_1.cpu_us_per_req)})`, met: big.domains >= 100000 ? big.ratio_to_1.rps >= 0.97 : null }];
  },

  chart(res) {
    return res.sizes.map((s) => ({ group: "ELB throughput by domains configured (ratio to 1 domain)", label: `${int(s.domains)} domains`, ratio: s.ratio_to_1.rps }));
  },

  markdown(res) {
    const L = [];
    L.push(`Each size is its own ELB (one worker, statsd on) loading its domains from etcd at start; the domains all have the rule graph of the proxy section. ` +
      `wrk picks the Host of every request at random among the domains (\`bench/lua/wrk-spread.lua\`, also for 1 domain, so the load generator does the same work at every size); ` +
      `${res.rounds} interleaved rounds of ${res.duration_s} s. Cold load: from starting \`nginx/launch.sh\` until \`/__erulb__/status\` says loaded, with every domain, on every worker.`, "");
    L.push("| domains | req/s | p50 ms | p99 ms | CPU µs/req | req/s vs 1 domain | CPU/req vs 1 domain | cold load s | etcd write s | worker RSS MiB (loaded / after the runs) | worker PSS MiB | master RSS MiB |");
    L.push("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const s of res.sizes) {
      const m = s.median;
      const rss = s.memory_loaded.map((w, i) => `${fmt(w.rss_kb / 1024)} / ${fmt(s.memory_after[i]?.rss_kb / 1024)}`).join(", ");
      const pss = s.memory_after.map((w) => fmt(w.pss_kb / 1024)).join(", ");
      L.push(`| ${int(s.domains)} | ${int(m.rps)} | ${fmt(m.p50_ms, 2)} | ${fmt(m.p99_ms, 2)} | ${fmt(m.cpu_us_per_req, 2)} | ${pct(s.ratio_to_1.rps)} | ${ratio(s.ratio_to_1.cpu_us_per_req)} | ${fmt(s.cold_load_s, 2)} | ${fmt(s.etcd_write_s, 1)} | ${rss} | ${pss} | ${fmt(s.master_rss_kb / 1024)} |`);
    }
    return L.join("\n");
  },
};
