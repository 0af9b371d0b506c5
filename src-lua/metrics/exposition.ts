// The node's metrics in Prometheus' text format 0.0.4, for GET /__erulb__/metrics and the
// ELB_METRICS_LISTEN port: the request counters the workers flushed to elb_metrics
// (metrics/flush.ts), and what the node knows at the moment of the scrape: each upstream
// server's health and requests in flight, the configuration's progress, the lead among the
// workers, nginx's connections and the workers' memory. README's "Looking at ELB" lists them.
import * as ffi from "ffi";
import { certs, counts, literals, Upstream, upstreams } from "../config/view";
import { regexLimitHits } from "../config/counters";
import * as store from "../config/store";
import { serverHealth } from "../health/report";
import { leaderChanges, leaderPid } from "../node/leader";
import { newestRoutingRevision, VERSION } from "../node/fleet";
import { settings } from "../node/settings";
import { BOUNDS, CLASSES, OTHER, UNMATCHED } from "./aggregate";
import { labelled } from "./flush";

const dict = ngx.shared.elb_metrics;
const STATES = ["up", "drain", "down", "backup", "unhealthy"];
const LE = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];

let out: string[] = [];

function escapeLabel(v: string): string {
  let s = string.gsub(v, "\\", "\\\\")[0];
  s = string.gsub(s, '"', '\\"')[0];
  return string.gsub(s, "\n", "\\n")[0];
}

function num(v: number): string {
  if (v !== v) return "NaN";
  if (v === math.huge) return "+Inf";
  if (v === -math.huge) return "-Inf";
  if (v === math.floor(v) && math.abs(v) < 1e15) return string.format("%d", v);
  return string.format("%.9g", v);
}

function family(name: string, type: string, help: string): void {
  out.push(`# HELP ${name} ${help}`);
  out.push(`# TYPE ${name} ${type}`);
}

/** A sample; labels as "k1", "v1", "k2", "v2", ... */
function sample(name: string, value: number, ...labels: string[]): void {
  if (labels.length === 0) {
    out.push(`${name} ${num(value)}`);
    return;
  }
  const parts: string[] = [];
  for (let i = 0; i < labels.length; i += 2) parts.push(`${labels[i]}="${escapeLabel(labels[i + 1])}"`);
  out.push(`${name}{${parts.join(",")}} ${num(value)}`);
}

function get(key: string): number {
  if (dict === undefined) return 0;
  const [v] = dict.get(key);
  return (v as number | undefined) ?? 0;
}

function requests(): void {
  const names = labelled();
  names.push(OTHER, UNMATCHED);
  family("elb_http_requests_total", "counter", "Requests answered, by domain (the configured domain the Host matched; other: beyond ELB_METRICS_MAX_DOMAINS; unmatched: no domain) and status class.");
  const shown: string[] = [];
  for (const d of names) {
    let any = false;
    for (let c = 0; c < CLASSES.length; c++) {
      const n = get(`d|${d}|c${c}`);
      if (n > 0) {
        sample("elb_http_requests_total", n, "domain", d, "code", CLASSES[c]);
        any = true;
      }
    }
    if (any) shown.push(d);
  }
  family("elb_http_request_duration_seconds", "histogram", "Time from the first byte of the request to the last byte of the answer, by domain.");
  for (const d of shown) {
    let cumulative = 0;
    for (let b = 0; b < BOUNDS.length; b++) {
      cumulative += get(`d|${d}|b${b}`);
      sample("elb_http_request_duration_seconds_bucket", cumulative, "domain", d, "le", LE[b]);
    }
    sample("elb_http_request_duration_seconds_sum", get(`d|${d}|s`), "domain", d);
    sample("elb_http_request_duration_seconds_count", cumulative, "domain", d);
  }
}

/** Regex matches cut off at the match limit: only domains that had one (issue 17's counter). */
function regexLimits(): void {
  family("elb_regex_match_limit_hits_total", "counter", "Rule regex matches cut off at the match limit (ELB_REGEX_MATCH_LIMIT) and counted as misses, by domain.");
  const hits = regexLimitHits();
  const names: string[] = [];
  for (const d in hits) names.push(d);
  table.sort(names);
  for (const d of names) sample("elb_regex_match_limit_hits_total", hits[d], "domain", d);
}

interface ServerRow {
  upstream: string;
  server: string;
  key: string;
  up: Upstream;
}

function serverRows(): ServerRow[] {
  const rows: ServerRow[] = [];
  const collect = (name: string, up: Upstream) => {
    const addrs: string[] = [];
    for (const [addr] of up.servers) addrs.push(addr);
    table.sort(addrs);
    for (const addr of addrs) rows.push({ upstream: name, server: addr, key: `${name}|${addr}`, up });
  };
  const names: string[] = [];
  for (const [name] of upstreams) names.push(name);
  table.sort(names);
  for (const name of names) collect(name, upstreams.get(name)!);
  const lits: string[] = [];
  for (const [name] of literals) lits.push(name);
  table.sort(lits);
  for (const name of lits) collect(name, literals.get(name)!);
  return rows;
}

function servers(): void {
  const rows = serverRows();
  family("elb_upstream_requests_total", "counter", "Requests whose last try went to this server, by status class of the answer.");
  for (const r of rows) {
    for (let c = 0; c < CLASSES.length; c++) {
      const n = get(`s|${r.key}|c${c}`);
      if (n > 0) sample("elb_upstream_requests_total", n, "upstream", r.upstream, "server", r.server, "code", CLASSES[c]);
    }
  }
  family("elb_upstream_failures_total", "counter", "Failures passive health counted on this server: connect errors, timeouts, and answers with a status of the policy's fail_statuses.");
  for (const r of rows) sample("elb_upstream_failures_total", get(`f|${r.key}`), "upstream", r.upstream, "server", r.server);
  const health = rows.map((r) => serverHealth(r.key, r.up.servers.get(r.server)!.params, r.up.policy.healthcheck !== undefined));
  family("elb_upstream_server_state", "gauge", "1 for the server's state (up, drain, down, backup, unhealthy), 0 for the others.");
  rows.forEach((r, i) => {
    for (const st of STATES) sample("elb_upstream_server_state", health[i].state === st ? 1 : 0, "upstream", r.upstream, "server", r.server, "state", st);
  });
  family("elb_upstream_server_healthy", "gauge", "1 when neither passive nor active health took the server out.");
  rows.forEach((r, i) => sample("elb_upstream_server_healthy", health[i].healthy ? 1 : 0, "upstream", r.upstream, "server", r.server));
  family("elb_upstream_server_fails", "gauge", "Failures counted now: passive ones within fail_timeout plus failed active checks in a row.");
  rows.forEach((r, i) => sample("elb_upstream_server_fails", health[i].fails, "upstream", r.upstream, "server", r.server));
  family("elb_upstream_server_requests_in_flight", "gauge", "Requests on the server now, on this node (each worker publishes its count every 50 ms).");
  rows.forEach((r, i) => sample("elb_upstream_server_requests_in_flight", health[i].active, "upstream", r.upstream, "server", r.server));
  family("elb_upstream_server_state_changes_total", "counter", "Times the server changed state (active or passive health) since the node started.");
  rows.forEach((r, i) => sample("elb_upstream_server_state_changes_total", health[i].changes, "upstream", r.upstream, "server", r.server));
}

function configuration(): void {
  let invalid = 0;
  for (const [key] of store.invalidKeys()) if (key !== undefined) invalid++;
  const applied = store.revision();
  family("elb_config_revision", "gauge", "The etcd revision of the newest configuration change this node applied.");
  sample("elb_config_revision", applied);
  family("elb_config_watched_revision", "gauge", "The etcd revision up to which this node has seen every change under /$ELBNAME/.");
  sample("elb_config_watched_revision", store.watchedRevision());
  family("elb_config_changes_total", "counter", "Configuration keys changed on this node (from the load and the watch).");
  sample("elb_config_changes_total", store.lastSeq());
  family("elb_config_invalid_keys", "gauge", "Values in etcd that failed validation and are skipped (GET /__erulb__/status lists them).");
  sample("elb_config_invalid_keys", invalid);
  family("elb_config_full_reloads_total", "counter", "Full reads of the configuration from etcd (at start, and when etcd compacted the revision the watch needed).");
  sample("elb_config_full_reloads_total", store.getStatus("full_reloads") ?? 0);
  family("elb_config_loaded", "gauge", "1 once the node has read its configuration from etcd.");
  sample("elb_config_loaded", store.getStatus("loaded") === true ? 1 : 0);
  family("elb_config_domains", "gauge", "Domains configured.");
  sample("elb_config_domains", counts.domains);
  family("elb_config_upstreams", "gauge", "Upstreams configured.");
  sample("elb_config_upstreams", counts.upstreams);
  family("elb_etcd_connected", "gauge", "1 when the node's last exchange with etcd succeeded.");
  sample("elb_etcd_connected", store.getStatus("etcd") === "connected" ? 1 : 0);
  const [newest] = newestRoutingRevision();
  if (newest !== undefined) {
    family("elb_config_lag_revisions", "gauge", "The newest configuration change in etcd (mod revision of a routing key) minus elb_config_revision, read at the scrape; 0 is up to date.");
    sample("elb_config_lag_revisions", newest > applied ? newest - applied : 0);
  }
  family("elb_leader_worker_pid", "gauge", "The pid of the worker that leads this node (holds the etcd watch, the registry entry and the snapshot).");
  sample("elb_leader_worker_pid", leaderPid() ?? 0);
  family("elb_leader_changes_total", "counter", "Times a worker of this node took the lead.");
  sample("elb_leader_changes_total", leaderChanges());
}

ffi.cdef(`
  extern volatile unsigned long *ngx_stat_accepted, *ngx_stat_handled, *ngx_stat_requests;
  extern volatile unsigned long *ngx_stat_active, *ngx_stat_reading, *ngx_stat_writing, *ngx_stat_waiting;
`);

function stat(this: void, name: string): number {
  return tonumber(ffi.C[name][0])!;
}

/** nginx's own counters (those of its stub_status module), node-wide. */
function connections(): void {
  const [ok, accepted] = pcall(stat, "ngx_stat_accepted");
  if (!ok) return;
  family("elb_nginx_connections_accepted_total", "counter", "Client connections nginx accepted.");
  sample("elb_nginx_connections_accepted_total", accepted as number);
  family("elb_nginx_connections_handled_total", "counter", "Client connections nginx handled.");
  sample("elb_nginx_connections_handled_total", stat("ngx_stat_handled"));
  family("elb_nginx_http_requests_total", "counter", "Client requests nginx read (the admin API's included).");
  sample("elb_nginx_http_requests_total", stat("ngx_stat_requests"));
  family("elb_nginx_connections", "gauge", "Client connections now: active (all), reading (the request), writing (the answer), waiting (idle keepalive).");
  for (const st of ["active", "reading", "writing", "waiting"]) sample("elb_nginx_connections", stat(`ngx_stat_${st}`), "state", st);
}

function certificates(): void {
  const names: string[] = [];
  for (const [name] of certs) names.push(name);
  table.sort(names);
  family("elb_certificate_expiry_timestamp_seconds", "gauge", "When each certificate the node serves expires (its leaf's notAfter), in seconds since the epoch.");
  for (const name of names) sample("elb_certificate_expiry_timestamp_seconds", certs.get(name)!.summary.notAfter, "certificate", name);
}

function memory(): void {
  const n = ngx.worker.count();
  family("elb_worker_lua_memory_bytes", "gauge", "The Lua heap of each nginx worker (sampled every 2 s).");
  for (let w = 0; w < n; w++) sample("elb_worker_lua_memory_bytes", get(`w|${w}|lua`), "worker", tostring(w));
  family("elb_worker_resident_memory_bytes", "gauge", "The resident memory of each nginx worker (sampled every 2 s).");
  for (let w = 0; w < n; w++) sample("elb_worker_resident_memory_bytes", get(`w|${w}|rss`), "worker", tostring(w));
  const names = ["elb_config", "elb_health", "elb_limits", "elb_metrics"];
  family("elb_shared_dict_capacity_bytes", "gauge", "Size of each shared dict.");
  for (const name of names) {
    const d = ngx.shared[name];
    if (d !== undefined) sample("elb_shared_dict_capacity_bytes", d.capacity(), "dict", name);
  }
  family("elb_shared_dict_free_bytes", "gauge", "Free pages of each shared dict, in bytes.");
  for (const name of names) {
    const d = ngx.shared[name];
    if (d !== undefined) sample("elb_shared_dict_free_bytes", d.free_space(), "dict", name);
  }
}

/** The whole exposition. */
export function render(): string {
  out = [];
  family("elb_node_info", "gauge", "Always 1: the node's name, version and ELBNAME.");
  sample("elb_node_info", 1, "node", settings.nodeId, "version", VERSION, "elbname", settings.elbName);
  family("elb_start_time_seconds", "gauge", "When the node started, in seconds since the epoch.");
  sample("elb_start_time_seconds", store.getStatus("started_at") ?? 0);
  requests();
  regexLimits();
  servers();
  configuration();
  certificates();
  connections();
  memory();
  out.push("");
  const text = out.join("\n");
  out = [];
  return text;
}
