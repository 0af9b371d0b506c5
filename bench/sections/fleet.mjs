// Section: the fleet estimate. One ELB node (2 workers) on its own etcd, with 20 domains and 5
// upstreams, its etcd traffic counted two ways: etcd's own /metrics (gRPC calls by method, watch
// streams and watchers, lease renewals, bytes, WAL and history growth) and a TCP relay between
// the node and etcd (HTTP requests by path, connections, bytes on the wire, each watch message).
// Measured idle, then while one key changes 10 times a second (an upstream server's weight, then
// a domain's rule set), written straight to etcd as an operator or another node's admin API
// would. From those figures, on paper: what 1,000 such nodes would cost one 3-member etcd.
import net from "node:net";
import { HOST, freePort, request, sleep, startEtcd } from "../../test/harness/index.mjs";
import { ruleSet } from "../lib/rules.mjs";
import { startElb } from "../lib/servers.mjs";
import { fmt, int } from "../lib/stats.mjs";

const NAME = "FLEET";
const DOMAINS = 20;
const UPSTREAMS = 5;
const RATE_HZ = 10;
const FLEET = 1000;

/** Counts what crosses a TCP relay to `port`: connections, requests and bytes by path, watch messages. */
async function startRelay(port) {
  const listen = await freePort();
  const sockets = new Set();
  const stats = { connections: 0, requests: {}, up: {}, down: {} };
  // the raw bytes etcd sends on watch streams while `recording`, to split them by message
  const relay = { endpoint: `${HOST}:${listen}`, stats, recording: false, watchRaw: [] };
  const server = net.createServer((client) => {
    stats.connections += 1;
    const upstream = net.connect(port, HOST);
    sockets.add(client).add(upstream);
    let path = "(none)";
    client.on("data", (d) => {
      for (const m of d.toString("latin1").matchAll(/(?:^|\n)POST (\/v3\/[a-z/]+) HTTP\/1\.[01]\r\n/g)) {
        path = m[1];
        stats.requests[path] = (stats.requests[path] ?? 0) + 1;
      }
      stats.up[path] = (stats.up[path] ?? 0) + d.length;
      upstream.write(d);
    });
    upstream.on("data", (d) => {
      stats.down[path] = (stats.down[path] ?? 0) + d.length;
      if (path === "/v3/watch" && relay.recording) relay.watchRaw.push(Buffer.from(d));
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on("close", end);
      s.on("error", end);
    }
  });
  await new Promise((resolve) => server.listen(listen, HOST, resolve));
  relay.stop = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return relay;
}

/** etcd's /metrics as {"name{labels}": value}. */
async function scrape(etcd) {
  const r = await request({ port: etcd.port, path: "/metrics", timeoutMs: 5000 });
  if (r.status !== 200) throw new Error(`etcd /metrics: ${r.status}`);
  const out = {};
  for (const line of r.body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}

/** The sum of the series of `name` whose labels contain every one of `labels`. */
function metric(m, name, ...labels) {
  let sum = 0;
  for (const [k, v] of Object.entries(m)) {
    const bare = k.split("{")[0];
    if (bare === name && labels.every((l) => k.includes(l))) sum += v;
  }
  return sum;
}

async function snapshot(etcd, relay) {
  return { t: Date.now(), m: await scrape(etcd), relay: JSON.parse(JSON.stringify(relay.stats)) };
}

const GRPC_METHODS = ["Watch", "LeaseKeepAlive", "LeaseGrant", "Put", "Range", "Txn"];

/** What changed between two snapshots, as rates and totals. */
function between(a, b) {
  const secs = (b.t - a.t) / 1000;
  const d = (name, ...labels) => metric(b.m, name, ...labels) - metric(a.m, name, ...labels);
  const started = {};
  const sent = {};
  for (const g of GRPC_METHODS) {
    started[g] = d("grpc_server_started_total", `grpc_method="${g}"`);
    sent[g] = d("grpc_server_msg_sent_total", `grpc_method="${g}"`);
  }
  const sub = (x, y) => {
    const o = {};
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) if ((x[k] ?? 0) - (y[k] ?? 0)) o[k] = (x[k] ?? 0) - (y[k] ?? 0);
    return o;
  };
  return {
    seconds: secs,
    grpc_started: started,
    grpc_msgs_sent: sent,
    grpc_sent_bytes: d("etcd_network_client_grpc_sent_bytes_total"),
    grpc_received_bytes: d("etcd_network_client_grpc_received_bytes_total"),
    lease_renewed: d("etcd_debugging_lease_renewed_total"),
    mvcc_puts: d("etcd_mvcc_put_total"),
    mvcc_put_bytes: d("etcd_debugging_mvcc_total_put_size_in_bytes"),
    proposals_committed: d("etcd_server_proposals_committed_total"),
    wal_bytes: d("etcd_disk_wal_write_bytes_total"),
    watch_streams: metric(b.m, "etcd_debugging_mvcc_watch_stream_total"),
    watchers: metric(b.m, "etcd_debugging_mvcc_watcher_total"),
    relay: {
      connections: b.relay.connections - a.relay.connections,
      requests: sub(b.relay.requests, a.relay.requests),
      up: sub(b.relay.up, a.relay.up),
      down: sub(b.relay.down, a.relay.down),
    },
  };
}

/**
 * Splits the recorded watch-stream bytes into messages (each begins {"result":) and sums the
 * wire bytes (chunk framing included) of those that carry the node's registry key and the rest.
 */
function watchMessages(raw, registryKey) {
  const text = Buffer.concat(raw).toString("latin1");
  const keyB64 = Buffer.from(registryKey).toString("base64").replace(/=+$/, "");
  const parts = text.split(/(?=\{"result":)/).filter((p) => p.startsWith('{"result":'));
  const out = { registry: { messages: 0, bytes: 0 }, change: { messages: 0, bytes: 0 }, other: { messages: 0, bytes: 0 } };
  for (const p of parts) {
    const kind = !p.includes('"events"') ? "other" : p.includes(keyB64) ? "registry" : "change";
    out[kind].messages += 1;
    out[kind].bytes += p.length;
  }
  return out;
}

async function rangeKey(etcd, key) {
  const r = await request({ port: etcd.port, path: "/v3/kv/range", method: "POST", body: { key: Buffer.from(key).toString("base64") }, timeoutMs: 5000 });
  return r.json?.kvs?.[0];
}

/** The node's registry entry: its key, value (parsed) and the value's size. */
async function registry(etcd) {
  const [entry] = await etcd.getPrefix(`/${NAME}/nodes/`);
  if (!entry) throw new Error("the node has no registry entry under /FLEET/nodes/");
  return { key: entry[0], value: JSON.parse(entry[1]), bytes: Buffer.byteLength(entry[1]) };
}

async function waitApplied(etcd, key, timeoutMs = 10000) {
  const rev = Number((await rangeKey(etcd, key)).mod_revision);
  const t0 = Date.now();
  for (;;) {
    const reg = await registry(etcd);
    if (reg.value.revision >= rev) return reg;
    if (Date.now() - t0 > timeoutMs) throw new Error(`the node did not publish revision ${rev} within ${timeoutMs} ms (it says ${reg.value.revision})`);
    await sleep(50);
  }
}

/** Writes change(k) to etcd RATE_HZ times a second for `seconds`; returns how many. */
async function changeStorm(etcd, change, seconds) {
  const t0 = Date.now();
  const n = Math.round(seconds * RATE_HZ);
  let lastKey;
  for (let k = 0; k < n; k++) {
    const wait = t0 + (k * 1000) / RATE_HZ - Date.now();
    if (wait > 0) await sleep(wait);
    const [key, value] = change(k);
    await etcd.putMany({ [key]: value });
    lastKey = key;
  }
  return { changes: n, lastKey };
}

/** Per-change figures of a storm interval, with the idle interval's time-based traffic taken out. */
function perChange(s, idle, changes, msgs, valueBytes) {
  const excess = (x, idleX) => (x - (idleX * s.seconds) / idle.seconds) / changes;
  const relayDown = (x) => Object.values(x).reduce((a, v) => a + v, 0);
  return {
    changes,
    value_bytes: valueBytes,
    node_puts: excess(s.grpc_started.Put, idle.grpc_started.Put),
    watch_msgs: excess(s.grpc_msgs_sent.Watch, idle.grpc_msgs_sent.Watch),
    grpc_sent_bytes: excess(s.grpc_sent_bytes, idle.grpc_sent_bytes),
    http_down_bytes: excess(relayDown(s.relay.down), relayDown(idle.relay.down)),
    http_up_bytes: excess(relayDown(s.relay.up), relayDown(idle.relay.up)),
    wal_bytes: excess(s.wal_bytes, idle.wal_bytes),
    mvcc_put_bytes: s.mvcc_put_bytes / changes,
    proposals: excess(s.proposals_committed, idle.proposals_committed),
    watch_change_msg_bytes: msgs.change.messages ? msgs.change.bytes / msgs.change.messages : 0,
    watch_registry_msg_bytes: msgs.registry.messages ? msgs.registry.bytes / msgs.registry.messages : 0,
    watch_change_msgs: msgs.change.messages / changes,
    watch_registry_msgs: msgs.registry.messages / changes,
  };
}

/**
 * The fleet on paper: n nodes like this one on one etcd cluster, `rate` routing changes a
 * second. Every node writes its registry entry once per change, and every node's watch (on
 * /$ELBNAME/, which holds /$ELBNAME/nodes/) receives the change and every node's registry write.
 */
export function estimate(r, n, rate) {
  const pc = r.per_change.domain;
  const putsPerChange = 1 + n * pc.node_puts; // the change itself + each node's registry write
  const msgsPerChange = n * (pc.watch_change_msgs + n * pc.watch_registry_msgs);
  const bytesPerChange = n * (pc.watch_change_msgs * pc.watch_change_msg_bytes + n * pc.watch_registry_msgs * pc.watch_registry_msg_bytes);
  const writeBytes = pc.mvcc_put_bytes / (1 + pc.node_puts); // history bytes per write
  const walBytes = pc.wal_bytes / (1 + pc.node_puts); // WAL bytes per write
  return {
    nodes: n,
    rate_hz: rate,
    watch_streams: n * r.idle.watch_streams,
    watchers: n * r.idle.watchers,
    leases: n,
    keepalives_per_s: n * r.idle_rates.keepalives_per_s,
    idle_requests_per_s: n * r.idle_rates.http_requests_per_s,
    writes_per_change: putsPerChange,
    writes_per_s: rate * putsPerChange,
    watch_msgs_per_change: msgsPerChange,
    watch_msgs_per_s: rate * msgsPerChange,
    watch_bytes_per_change: bytesPerChange,
    watch_bytes_per_s: rate * bytesPerChange,
    wal_bytes_per_s: rate * putsPerChange * walBytes,
    history_bytes_per_s: rate * putsPerChange * writeBytes,
    hours_to_8gib: (8 * 1024 ** 3) / (rate * putsPerChange * writeBytes) / 3600,
    // the change rate at which the watch fan-out fills 1 Gbit/s (125 MB/s) out of etcd
    rate_for_1gbit: 125e6 / bytesPerChange,
  };
}

export default {
  id: "fleet",
  title: "Fleet estimate (one node's load on etcd, and 1,000 nodes on paper)",
  async run(ctx) {
    const idleS = ctx.quick ? 10 : 30;
    const stormS = ctx.quick ? 5 : 20;
    const backend = await ctx.shared.backend();
    const etcd = await startEtcd();
    const relay = await startRelay(etcd.port);
    let elb;
    try {
      const ups = {};
      for (let u = 1; u <= UPSTREAMS; u++) for (const a of backend.addrs) ups[`/${NAME}/upstreams/up${u}/${a}`] = "weight=1";
      await etcd.putMany(ups);
      const domains = {};
      for (let i = 1; i <= DOMAINS; i++) {
        domains[`/${NAME}/rules/d${i}.fleet.test`] = JSON.stringify(ruleSet({ hit: `up${(i % UPSTREAMS) + 1}`, miss: `up${((i + 1) % UPSTREAMS) + 1}` }));
      }
      await etcd.putMany(domains);
      elb = await startElb({ etcd: relay.endpoint, elbName: NAME, workers: 2, waitLoaded: true, expectDomains: DOMAINS });
      const nodeWorkers = elb.workers().length;
      await sleep(3000); // the first registry write and the first keepalive
      const reg0 = await registry(etcd);
      ctx.log(`  node ${reg0.value.id}: ${nodeWorkers} workers, registry entry ${reg0.bytes} bytes`);

      const i0 = await snapshot(etcd, relay);
      await sleep(idleS * 1000);
      const idle = between(i0, await snapshot(etcd, relay));
      const idleRequests = Object.values(idle.relay.requests).reduce((a, v) => a + v, 0);
      ctx.log(`  idle ${fmt(idle.seconds, 1)} s: ${idle.watch_streams} watch stream(s), ${idle.watchers} watcher(s), ${idle.grpc_started.LeaseKeepAlive} keepalives, ${idle.grpc_started.Put} puts, ${idleRequests} HTTP requests on ${idle.relay.connections} new connections`);

      const addr = backend.addrs[0];
      const paths = ["^/api/(\\S+)$", "^/api/(.+)$"];
      const kinds = {
        upstream: (k) => [`/${NAME}/upstreams/up1/${addr}`, `weight=${(k % 2) + 1}`],
        domain: (k) => [`/${NAME}/rules/d1.fleet.test`, JSON.stringify(ruleSet({ path: paths[k % 2], hit: "up2", miss: "up3" }))],
      };
      const storms = {};
      const per = {};
      for (const [kind, change] of Object.entries(kinds)) {
        relay.watchRaw = [];
        relay.recording = true;
        const s0 = await snapshot(etcd, relay);
        const { changes, lastKey } = await changeStorm(etcd, change, stormS);
        const reg = await waitApplied(etcd, lastKey);
        await sleep(300);
        const s = between(s0, await snapshot(etcd, relay));
        relay.recording = false;
        const msgs = watchMessages(relay.watchRaw, reg.key);
        storms[kind] = { ...s, watch_messages: msgs };
        per[kind] = perChange(s, idle, changes, msgs, Buffer.byteLength(change(0)[1]));
        ctx.log(`  ${kind} ${changes} changes in ${fmt(s.seconds, 1)} s: ${fmt(per[kind].node_puts, 2)} node puts, ${fmt(per[kind].watch_msgs, 2)} watch messages, ${int(per[kind].http_down_bytes)} HTTP bytes from etcd per change`);
      }
      const r = {
        domains: DOMAINS,
        upstreams: UPSTREAMS,
        workers: nodeWorkers,
        rate_hz: RATE_HZ,
        registry_bytes: reg0.bytes,
        idle,
        idle_rates: {
          keepalives_per_s: idle.grpc_started.LeaseKeepAlive / idle.seconds,
          puts_per_s: idle.grpc_started.Put / idle.seconds,
          http_requests_per_s: idleRequests / idle.seconds,
          grpc_sent_bytes_per_s: idle.grpc_sent_bytes / idle.seconds,
          http_down_bytes_per_s: Object.values(idle.relay.down).reduce((a, v) => a + v, 0) / idle.seconds,
          http_up_bytes_per_s: Object.values(idle.relay.up).reduce((a, v) => a + v, 0) / idle.seconds,
        },
        storms,
        per_change: per,
      };
      r.estimates = [estimate(r, FLEET, RATE_HZ), estimate(r, FLEET, 1), estimate(r, 100, RATE_HZ)];
      return r;
    } finally {
      if (elb) await elb.stop();
      await relay.stop();
      await etcd.stop();
    }
  },

  markdown(r) {
    const L = [];
    const idle = r.idle;
    const ir = r.idle_rates;
    const pu = r.per_change.upstream;
    const pd = r.per_change.domain;
    const reqs = (x) => Object.entries(x).sort().map(([p, n]) => `${p} ${n}`).join(", ") || "none";
    L.push(`One ELB node (${r.workers} workers, nginx/launch.sh as in production) on its own single-member etcd 3.4, configured with ${r.domains} domains and ${r.upstreams} upstreams of 2 servers. ` +
      `Its etcd traffic is read from etcd's own \`/metrics\` (\`grpc_server_started_total\` and \`grpc_server_msg_sent_total\` by method, \`etcd_debugging_mvcc_watch_stream_total\`, \`etcd_debugging_mvcc_watcher_total\`, ` +
      `\`etcd_network_client_grpc_sent_bytes_total\`, \`etcd_disk_wal_write_bytes_total\`, \`etcd_debugging_mvcc_total_put_size_in_bytes\`) and from a TCP relay the node reaches etcd through ` +
      `(HTTP requests by path, connections, bytes on the wire, each watch message). ELB speaks to etcd's JSON gateway (HTTP/1.1), which etcd serves by calling its own gRPC server: one gRPC call per HTTP request. ` +
      `Changes are written straight to etcd (one key each, as \`etcdctl put\` or another node's admin API would), ${r.rate_hz} a second; per-change figures have the idle interval's time-based traffic (keep-alives) taken out. ` +
      `The lead among a node's workers is in nginx's shared memory (node/leader.ts), not in etcd: it costs etcd nothing.`, "");
    L.push("### One node, measured", "");
    L.push("| | idle | upstream weight 10×/s | domain rule set 10×/s |", "|---|---:|---:|---:|");
    const su = r.storms.upstream;
    const sd = r.storms.domain;
    L.push(`| interval | ${fmt(idle.seconds, 1)} s | ${pu.changes} changes in ${fmt(su.seconds, 1)} s | ${pd.changes} changes in ${fmt(sd.seconds, 1)} s |`);
    L.push(`| watch streams / watchers open (etcd gauges) | ${idle.watch_streams} / ${idle.watchers} | ${su.watch_streams} / ${su.watchers} | ${sd.watch_streams} / ${sd.watchers} |`);
    L.push(`| gRPC calls started (etcd) | ${reqs(Object.fromEntries(Object.entries(idle.grpc_started).filter(([, v]) => v)))} | ${reqs(Object.fromEntries(Object.entries(su.grpc_started).filter(([, v]) => v)))} | ${reqs(Object.fromEntries(Object.entries(sd.grpc_started).filter(([, v]) => v)))} |`);
    L.push(`| the node's HTTP requests (relay) | ${reqs(idle.relay.requests)} | ${reqs(su.relay.requests)} | ${reqs(sd.relay.requests)} |`);
    L.push(`| new TCP connections to etcd | ${idle.relay.connections} | ${su.relay.connections} | ${sd.relay.connections} |`);
    L.push(`| lease keep-alives/s | ${fmt(ir.keepalives_per_s, 3)} | | |`);
    L.push(`| registry writes (Put) per change | ${fmt(ir.puts_per_s, 3)}/s idle | ${fmt(pu.node_puts, 2)} | ${fmt(pd.node_puts, 2)} |`);
    L.push(`| watch messages etcd sends the node per change (gRPC) | | ${fmt(pu.watch_msgs, 2)} | ${fmt(pd.watch_msgs, 2)} |`);
    L.push(`| … of which carry the change / the node's own registry write (relay) | | ${fmt(pu.watch_change_msgs, 2)} / ${fmt(pu.watch_registry_msgs, 2)} | ${fmt(pd.watch_change_msgs, 2)} / ${fmt(pd.watch_registry_msgs, 2)} |`);
    L.push(`| bytes on the wire per watch message: change / registry write (JSON, chunked) | | ${int(pu.watch_change_msg_bytes)} / ${int(pu.watch_registry_msg_bytes)} | ${int(pd.watch_change_msg_bytes)} / ${int(pd.watch_registry_msg_bytes)} |`);
    L.push(`| HTTP bytes etcd → node, node → etcd | ${fmt(ir.http_down_bytes_per_s, 0)} / ${fmt(ir.http_up_bytes_per_s, 0)} B/s | ${int(pu.http_down_bytes)} / ${int(pu.http_up_bytes)} B per change | ${int(pd.http_down_bytes)} / ${int(pd.http_up_bytes)} B per change |`);
    L.push(`| gRPC bytes etcd sent (its counter; includes the writer's own reply) | ${fmt(ir.grpc_sent_bytes_per_s, 0)} B/s | ${int(pu.grpc_sent_bytes)} B per change | ${int(pd.grpc_sent_bytes)} B per change |`);
    L.push(`| raft proposals committed | ${idle.proposals_committed} (for ${idle.lease_renewed} lease renewals) | ${fmt(pu.proposals, 2)} per change | ${fmt(pd.proposals, 2)} per change |`);
    L.push(`| WAL bytes per change (the change + the registry write) | | ${int(pu.wal_bytes)} | ${int(pd.wal_bytes)} |`);
    L.push(`| history (MVCC) bytes per change | | ${int(pu.mvcc_put_bytes)} | ${int(pd.mvcc_put_bytes)} |`);
    L.push(`| size of the changed value / of the registry entry | | ${pu.value_bytes} / ${r.registry_bytes} B | ${pd.value_bytes} / ${r.registry_bytes} B |`);
    L.push("");
    L.push("Range and Txn calls are the bench's own (its writes and its check that the node published the last change's revision); the relay shows every request the node made.", "");
    L.push("What one node costs etcd: **one watch stream** (the leading worker's, on `/$ELBNAME/`), **one lease** kept alive every 3 s (TTL 10 s, node/fleet.ts), " +
      "and per routing change **one registry write** (`/$ELBNAME/nodes/<id>` with the revision every worker applied, published within 20 ms). Idle, nothing else: no polling. " +
      "The watch covers `/$ELBNAME/nodes/` too, so etcd sends each node every node's registry write; the node ignores them (config/watcher.ts commits no revision for them, so they cause no further write), but they are sent.", "");
    L.push(`### ${int(FLEET)} nodes on one 3-member etcd cluster, on paper`, "");
    L.push("Scaled from the figures above (the domain rule-set change: the larger message). With N nodes and c changes a second: writes/s = c × (1 + N); " +
      "watch messages/s = c × N × (1 + N) — each node receives the change and the N registry writes it causes; bytes out of etcd/s = c × N × (change message + N × registry message).", "");
    L.push("| | " + r.estimates.map((e) => `${int(e.nodes)} nodes, ${e.rate_hz} change${e.rate_hz === 1 ? "" : "s"}/s`).join(" | ") + " |");
    L.push("|---|" + r.estimates.map(() => "---:").join("|") + "|");
    const row = (label, f) => L.push(`| ${label} | ${r.estimates.map(f).join(" | ")} |`);
    row("watch streams = watchers", (e) => int(e.watch_streams));
    row("leases; keep-alives/s", (e) => `${int(e.leases)}; ${fmt(e.keepalives_per_s, 0)}/s`);
    row("HTTP requests/s when idle (keep-alives)", (e) => fmt(e.idle_requests_per_s, 0));
    row("writes (raft proposals) per change", (e) => int(e.writes_per_change));
    row("**writes/s**", (e) => `**${int(e.writes_per_s)}**`);
    row("watch messages per change", (e) => int(e.watch_msgs_per_change));
    row("watch messages/s", (e) => int(e.watch_msgs_per_s));
    row("watch bytes out of etcd per change", (e) => `${fmt(e.watch_bytes_per_change / 1e6, 1)} MB`);
    row("**watch bytes out of etcd/s**", (e) => `**${fmt(e.watch_bytes_per_s / 1e6, 0)} MB/s** (${fmt((e.watch_bytes_per_s * 8) / 1e9, 1)} Gbit/s)`);
    row("change rate that fills 1 Gbit/s with watch traffic", (e) => `${fmt(e.rate_for_1gbit, 2)} changes/s`);
    row("WAL written per member/s (each member logs every write)", (e) => `${fmt(e.wal_bytes_per_s / 1e6, 1)} MB/s`);
    row("history growth (keys + values only, no compaction)", (e) => `${fmt(e.history_bytes_per_s / 1e6, 1)} MB/s: 8 GiB in ${fmt(e.hours_to_8gib, 1)} h`);
    L.push("");
    const e = r.estimates.find((x) => x.nodes === FLEET && x.rate_hz === RATE_HZ);
    const e1 = r.estimates.find((x) => x.nodes === FLEET && x.rate_hz === 1);
    L.push("Against etcd's documented limits and guidance:", "");
    L.push(`- **Request size** (1.5 MiB by default, [System limits](https://etcd.io/docs/v3.4/dev-guide/limit/)): not a concern. The largest request a node makes is a registry write of ${r.registry_bytes} bytes or one admin transaction; the watch's messages are responses, and the fleet read (\`GET /__erulb__/fleet\`, ${int(FLEET)} entries ≈ ${fmt((FLEET * r.registry_bytes * 1.6) / 1024, 0)} KiB as JSON) stays far below it.`);
    L.push(`- **Storage** (2 GiB default quota, 8 GiB the suggested maximum, same page): the keys themselves are small (${int(FLEET)} registry entries ≈ ${fmt((FLEET * r.registry_bytes) / 1024, 0)} KiB), but every write is kept as history until etcd compacts it, and ELB does not compact. ` +
      `At ${int(FLEET)} nodes and ${RATE_HZ} changes/s the history grows at least ${fmt(e.history_bytes_per_s / 1e6, 1)} MB/s (keys and values, without bbolt's own overhead): 8 GiB in at most ${fmt(e.hours_to_8gib, 1)} hours (${fmt(e1.hours_to_8gib, 0)} hours at 1 change/s) — the cluster must run with \`--auto-compaction-retention\` ([Maintenance](https://etcd.io/docs/v3.4/op-guide/maintenance/): the history "should be periodically compacted to avoid performance degradation and eventual storage space exhaustion").`);
    L.push(`- **Writes/s**: etcd's own benchmark of a 3-member cluster (8 vCPUs, 16 GB, SSD per member; etcd 3.2) reaches 44,341 writes/s to the leader with 1,000 clients and 583 writes/s with one client ([Performance](https://etcd.io/docs/v3.4/op-guide/performance/)); ` +
      `its hardware guide sizes a "large cluster" at fewer than 1,500 clients and fewer than 10,000 requests per second (8 vCPUs, 32 GB), beyond that "xLarge" (16 vCPUs, 64 GB) ([Hardware recommendations](https://etcd.io/docs/v3.4/op-guide/hardware/)). ` +
      `${int(FLEET)} nodes ask ${int(e.writes_per_s)} writes/s at ${RATE_HZ} changes/s (${int(e1.writes_per_s)} at 1 change/s) plus ${fmt(e.keepalives_per_s, 0)} keep-alives/s (measured above: lease renewals commit no raft proposal): ` +
      `within what the benchmark shows, ${e.writes_per_s < 10000 ? "inside" : "just past"} the "large" class's 10,000 requests/s at ${RATE_HZ} changes/s, and every member fsyncs ${fmt(e.wal_bytes_per_s / 1e6, 1)} MB/s of WAL.`);
    L.push(`- **Watchers**: ${int(e.watchers)} watchers on one prefix is ordinary for etcd (the hardware guide gives "thousands of watchers and millions of keys" 16 to 64 GB of memory). What does not scale is what they are sent: ` +
      `each registry write goes to every node, so a change costs ${int(e.watch_msgs_per_change)} watch messages, ${fmt(e.watch_bytes_per_change / 1e6, 0)} MB out of etcd. At ${RATE_HZ} changes/s that is **${fmt(e.watch_bytes_per_s / 1e6, 0)} MB/s (${fmt((e.watch_bytes_per_s * 8) / 1e9, 1)} Gbit/s)** ` +
      `and ${fmt(e.watch_msgs_per_s / 1e6, 1)} million messages/s, each JSON-encoded by the gateway; 1 Gbit/s is full at ${fmt(e.rate_for_1gbit, 2)} changes/s. Every node's leading worker also decodes ${int(FLEET)} registry events per change.`);
    L.push("");
    L.push(`**What gives out first: the watch fan-out of the registry writes**, which grows with N² (at ${int(FLEET)} nodes the network and CPU of the etcd members serving the watches, long before writes/s, keep-alives or storage). ` +
      `It is made worse by every node starting on the first endpoint of \`ETCD\` (etcd/client.ts begins at index 0), so one member serves all ${int(FLEET)} watches unless the operators order the list differently per node. What the project could do, in order of effect:`, "");
    L.push(`1. **Keep the registry out of the nodes' watch**: watch only the routing sections (or move the registry to a prefix outside \`/$ELBNAME/\`). Watch traffic then falls to N messages per change: ${fmt((FLEET * pd.watch_change_msg_bytes) / 1e6, 1)} MB per change at ${int(FLEET)} nodes, ${fmt((RATE_HZ * FLEET * pd.watch_change_msg_bytes) / 1e6, 1)} MB/s at ${RATE_HZ} changes/s; the \`--wait\`/\`?wait=fleet\` readers already read the registry with a range, not a watch.`);
    L.push(`2. **A registry write interval**: publish the applied revision at most every T seconds (today within 20 ms of each change). Writes/s then stay at or below N / T whatever the change rate (${int(FLEET)} writes/s at T = 1 s, against ${int(e.writes_per_s)}), and history growth with them; the price is that \`elbctl --wait\` learns of a node's progress up to T later.`);
    L.push(`3. **Spread the nodes over the members**: start each node's client at a random endpoint, so each member carries about a third of the watches and keep-alives.`);
    L.push(`4. Keep-alives are cheap (${fmt(e.keepalives_per_s, 0)}/s, no raft proposal); a TTL of 30 s renewed every 10 s would make them ${fmt(e.keepalives_per_s * 0.3, 0)}/s at the cost of a dead node staying listed 30 s. etcd's gRPC proxy coalesces identical watches (N → 1, [gRPC proxy](https://etcd.io/docs/v3.4/op-guide/grpc_proxy/)), but ELB speaks the JSON gateway, so using it needs a gateway in front of the proxy (not measured here).`);
    return L.join("\n");
  },
};
