// Adds each worker's counts (metrics/aggregate.ts) to the elb_metrics shared dict every
// INTERVAL, so the node's totals are there for GET /__erulb__/metrics (metrics/exposition.ts)
// and the request path never writes to a shared dict. Its keys:
//   d|<domain>|c<class>  d|<domain>|b<bucket>  d|<domain>|s   requests, duration buckets, seconds
//   s|<upstream>|<host:port>|c<class>   f|<upstream>|<host:port>   requests and failures by server
//   l|<domain> = its slot;  n|<slot> = the domain ("" once pruned);  slots = how many domains
//   have a label now;  slotseq = the last slot given;  labelgen = how many prunes freed labels
//   w|<worker>|lua  w|<worker>|rss   each worker's Lua heap and resident memory (bytes)
// Cardinality: only configured domains are counted; the first ELB_METRICS_MAX_DOMAINS of them
// that get requests have their own `domain` label, the others are counted as "other". Each
// worker keeps the labels given so far (aggregate.ts), read anew from n|<slot> at each flush,
// so that it counts the others as "other" from the first request. The leading worker drops
// the series of domains and servers that are no longer configured.
import { domains, literals, upstreams } from "../config/view";
import { isLeader } from "../node/leader";
import * as aggregate from "./aggregate";

const dict = ngx.shared.elb_metrics;
const INTERVAL = 0.5;
/** memory is sampled every this many flushes (2 s) */
const MEMORY_EVERY = 4;
/** the leader prunes every this many flushes (30 s) */
const PRUNE_EVERY = 60;

const OTHER = aggregate.OTHER;
/** flushes a slot given but not yet named is waited for (a worker between its two writes) */
const PENDING_FLUSHES = 10;
export const limits = { maxDomains: 1000 };

let logged = false;

function add(key: string, n: number): void {
  const [, err] = dict!.incr(key, n, 0);
  if (err !== undefined && !logged) {
    logged = true;
    ngx.log(ngx.ERR, `elb_metrics shared dict: ${err}; some counts are lost (give it more room in nginx.conf)`);
  }
}

/** The `domain` label of a configured domain: its name while there is room, else OTHER. */
function labelOf(name: string): string {
  const [slot] = dict!.get(`l|${name}`);
  if (slot !== undefined) {
    aggregate.giveLabel(name);
    return name;
  }
  const [n] = dict!.incr("slots", 1, 0);
  if (n === undefined || n > limits.maxDomains) {
    dict!.incr("slots", -1, 0);
    return OTHER;
  }
  const [fresh] = dict!.add(`l|${name}`, 0);
  if (fresh) {
    const [seq] = dict!.incr("slotseq", 1, 0);
    dict!.set(`n|${seq}`, name);
    dict!.set(`l|${name}`, seq!);
  } else {
    dict!.incr("slots", -1, 0); // another worker gave it its slot meanwhile
  }
  aggregate.giveLabel(name);
  return name;
}

/** The domains that have a label, in the order they got it. */
export function labelled(): string[] {
  const out: string[] = [];
  const [last] = dict!.get("slotseq");
  for (let s = 1; s <= (last ?? 0); s++) {
    const [name] = dict!.get(`n|${s}`);
    if (name !== undefined && name !== "") out.push(name as string);
  }
  return out;
}

let seenSeq = 0;
let seenGen = 0;
let pending = 0;

/** Brings this worker's labels (aggregate.ts) in step with the node's: those given since, or all after a prune. */
function syncLabels(): void {
  const [gen] = dict!.get("labelgen");
  if ((gen ?? 0) !== seenGen) {
    seenGen = (gen as number | undefined) ?? 0;
    seenSeq = 0;
    aggregate.forgetLabels();
  }
  const [last] = dict!.get("slotseq");
  for (let s = seenSeq + 1; s <= ((last as number | undefined) ?? 0); s++) {
    const [name] = dict!.get(`n|${s}`);
    if (name === undefined && pending < PENDING_FLUSHES) {
      pending = pending + 1;
      break;
    }
    pending = 0;
    if (name !== undefined && name !== "") aggregate.giveLabel(name as string);
    seenSeq = s;
  }
  const [used] = dict!.get("slots");
  aggregate.room.left = ((used as number | undefined) ?? 0) < limits.maxDomains;
}

function flushDomains(batch: LuaTable<string, aggregate.Tally>): void {
  for (const [label, t] of batch) {
    const base = `d|${label === OTHER || aggregate.hasLabel(label) ? label : labelOf(label)}|`;
    for (let c = 0; c < aggregate.CLASSES.length; c++) {
      const n = t[aggregate.TALLY.codes + c];
      if (n > 0) add(`${base}c${c}`, n);
    }
    for (let b = 0; b < aggregate.BOUNDS.length; b++) {
      const n = t[aggregate.TALLY.buckets + b];
      if (n > 0) add(`${base}b${b}`, n);
    }
    add(`${base}s`, t[aggregate.TALLY.sum]);
  }
}

function residentBytes(): number | undefined {
  const [f] = io.open("/proc/self/statm", "r");
  if (f === undefined) return undefined;
  const line = f.read("*l") as string | undefined;
  f.close();
  if (line === undefined) return undefined;
  const [pages] = string.match(line, "^%d+%s+(%d+)");
  return pages === undefined ? undefined : tonumber(pages)! * 4096;
}

function sampleMemory(): void {
  const w = ngx.worker.id() ?? 0;
  dict!.set(`w|${w}|lua`, collectgarbage("count") * 1024);
  const rss = residentBytes();
  if (rss !== undefined) dict!.set(`w|${w}|rss`, rss);
}

function serverConfigured(key: string): boolean {
  const [bar] = string.find(key, "|", 1, true);
  if (bar === undefined) return false;
  const up = upstreams.get(string.sub(key, 1, bar - 1)) ?? literals.get(string.sub(key, 1, bar - 1));
  return up !== undefined && up.servers.get(string.sub(key, bar + 1)) !== undefined;
}

/** Drops the series of domains and servers the configuration no longer has. */
export function prune(): void {
  const [last] = dict!.get("slotseq");
  let freed = false;
  for (let s = 1; s <= (last ?? 0); s++) {
    const [name] = dict!.get(`n|${s}`);
    if (name === undefined || name === "" || domains.get(name as string) !== undefined) continue;
    const base = `d|${name}|`;
    for (let c = 0; c < aggregate.CLASSES.length; c++) dict!.delete(`${base}c${c}`);
    for (let b = 0; b < aggregate.BOUNDS.length; b++) dict!.delete(`${base}b${b}`);
    dict!.delete(`${base}s`);
    dict!.delete(`l|${name}`);
    dict!.set(`n|${s}`, ""); // so the workers' syncLabels tell it from a slot being given
    dict!.incr("slots", -1, 0);
    freed = true;
  }
  if (freed) dict!.incr("labelgen", 1, 0);
  for (const key of dict!.get_keys(0)) {
    const p = string.sub(key, 1, 2);
    if (p !== "s|" && p !== "f|") continue;
    let server = string.sub(key, 3);
    if (p === "s|") server = string.sub(server, 1, -4); // "...|c<class>"
    if (!serverConfigured(server)) dict!.delete(key);
  }
}

let ticks = 0;

/** Adds this worker's counts to the dict. */
export function flush(): void {
  const batch = aggregate.take();
  flushDomains(batch.domains);
  for (const [key, codes] of batch.servers) {
    // "<upstream>|": no server could be picked
    if (string.sub(key, -1) === "|") continue;
    for (let c = 0; c < codes.length; c++) if (codes[c] > 0) add(`s|${key}|c${c}`, codes[c]);
  }
  for (const [key, n] of batch.failures) add(`f|${key}`, n);
  syncLabels();
  ticks = ticks + 1;
  if (ticks % MEMORY_EVERY === 1) sampleMemory();
  if (ticks % PRUNE_EVERY === 0 && isLeader()) prune();
}

/** Every INTERVAL, and once more as the worker exits (premature): nothing counted is lost. */
function tick(this: void): void {
  flush();
}

function setting(name: string): string | undefined {
  const v = os.getenv(name);
  return v === undefined || v === "" ? undefined : v;
}

/**
 * Reads ELB_METRICS (off: no Prometheus counting) and ELB_METRICS_MAX_DOMAINS (default 1000);
 * a message when one is malformed. Called in init_by_lua: the workers inherit the result.
 */
export function configure(): string | undefined {
  const on = setting("ELB_METRICS") ?? "on";
  if (on !== "on" && on !== "off") return `ELB_METRICS must be on or off, got "${on}"`;
  aggregate.settings.enabled = on === "on" && dict !== undefined;
  const max = setting("ELB_METRICS_MAX_DOMAINS");
  if (max !== undefined) {
    const n = tonumber(max);
    if (n === undefined || n !== math.floor(n) || n < 0 || n > 100000) return `ELB_METRICS_MAX_DOMAINS must be a whole number from 0 to 100000, got "${max}"`;
    limits.maxDomains = n;
  }
  return undefined;
}

/** Starts this worker's flush timer (every worker samples its memory even with counting off). */
export function start(): void {
  if (dict === undefined) return;
  ngx.timer.every(INTERVAL, tick);
}
