// The elb_health shared dict: a server's health as every worker of the node sees it. This
// module is the only one that reads or writes it (passive.ts, checker.ts and report.ts decide
// what to write and how to show it). Its keys:
//   d|<key>  passive: taken out until this key expires (max_fails within fail_timeout)
//   f|<key>  passive: failures counted in the current fail_timeout window
//   s|<key>  active checks: state bits (UNHEALTHY, DRAIN, OFFLINE); absent = 0
//   c|<key>  active checks: "<successes in a row>|<failures in a row>|<node state>|<answers in a row>"
//   t|<key>  active checks: when the last check ended (seconds)
//   r|<key>  when the server last recovered (slow start ramps again from there)
//   a|<key>|<worker id>  requests in flight on the server in that worker, published by it
//            every PUBLISH_EVERY polls (a shared-dict write per request would cost more
//            than the rest of the balancer phase); the node's count is their sum
//   n|<key>  how many times the server changed state;  changes = the node's total
// <key> is the peer's key, "<upstream>|<host:port>". Plain Lua (hot path).
import { Peer } from "../core/balancer/peer";

const dict = ngx.shared.elb_health!;

const DOWN = "d|";
const FAILS = "f|";
const BITS = "s|";
const COUNTERS = "c|";
const CHECKED_AT = "t|";
const RECOVERED = "r|";
const ACTIVE = "a|";
const CHANGES = "n|";
const ALL_CHANGES = "changes";

export const UNHEALTHY = 1;
export const DRAIN = 2;
export const OFFLINE = 4;

/** Gives the peer its keys here, once when its upstream is built rather than per request. */
export function fillKeys(peer: Peer): void {
  peer.downKey = DOWN + peer.key;
  peer.stateKey = BITS + peer.key;
}

// --- what the balancer reads per request (the peer's keys made by fillKeys)

/** The active-check state bits of a peer (0 when no check runs for it). */
export function checkBits(peer: Peer): number {
  if (!peer.checked) return 0;
  const [v] = dict.get(peer.stateKey);
  return v === undefined ? 0 : v;
}

/** Taken out by passive health, for every worker of the node. */
export function isDown(peer: Peer): boolean {
  if (peer.params.maxFails === 0) return false;
  const [v] = dict.get(peer.downKey);
  return v !== undefined;
}

/** Slow start: when the peer last recovered, if that is later than it joined. */
export function refreshSince(peer: Peer): void {
  const [r] = dict.get(RECOVERED + peer.key);
  if (r !== undefined && r > peer.since) peer.since = r;
}

// --- passive health

/** One more failure in the current window of `window` seconds: the count in it. */
export function countFailure(key: string, window: number): number | undefined {
  const [n] = dict.incr(FAILS + key, 1, 0, window);
  return n;
}

/**
 * Takes the peer out for `seconds` (false: it already was); its failures are counted afresh,
 * and slow start ramps again from when it comes back.
 */
export function takeOut(peer: Peer, seconds: number): boolean {
  const [added] = dict.add(peer.downKey, true, seconds);
  dict.delete(FAILS + peer.key);
  dict.set(RECOVERED + peer.key, ngx.now() + seconds);
  return added;
}

/** Passive health of a server by key: taken out, and the failures counted in the window. */
export function passiveState(key: string): LuaMultiReturn<[boolean, number]> {
  const [down] = dict.get(DOWN + key);
  const [f] = dict.get(FAILS + key);
  return $multi(down !== undefined, f ?? 0);
}

// --- active checks

export interface Counters {
  ok: number;
  ko: number;
  /** node-state: the last state answered, and how many times in a row */
  want: string;
  wantN: number;
}

export function readCounters(key: string): Counters {
  const [raw] = dict.get(COUNTERS + key);
  if (raw === undefined) return { ok: 0, ko: 0, want: "", wantN: 0 };
  const [ok, ko, want, wantN] = string.match(raw as string, "^(%d+)|(%d+)|([%a]*)|(%d+)$");
  return { ok: tonumber(ok) ?? 0, ko: tonumber(ko) ?? 0, want: want ?? "", wantN: tonumber(wantN) ?? 0 };
}

/** The active-check state bits of a server by key (0 when none were written). */
export function stateBits(key: string): number {
  const [b] = dict.get(BITS + key);
  return b ?? 0;
}

/** When the last check of a server ended, if one did. */
export function lastCheckAt(key: string): number | undefined {
  const [t] = dict.get(CHECKED_AT + key);
  return t;
}

/** A check of the server ended at `at`, leaving these counters. */
export function writeCheck(key: string, c: Counters, at: number): void {
  dict.set(COUNTERS + key, `${c.ok}|${c.ko}|${c.want}|${c.wantN}`);
  dict.set(CHECKED_AT + key, at);
}

/** New state bits; `recoveredAt`: the server came back into service then (slow start). */
export function writeBits(key: string, bits: number, recoveredAt: number | undefined): void {
  dict.set(BITS + key, bits);
  if (recoveredAt !== undefined) dict.set(RECOVERED + key, recoveredAt);
}

/** The checks of the server stopped: what they wrote goes. */
export function forgetChecks(key: string): void {
  dict.delete(BITS + key);
  dict.delete(COUNTERS + key);
  dict.delete(CHECKED_AT + key);
}

// --- changes of state

/** Counts and logs a change of a server's state. */
export function changed(key: string, from: string, to: string, why: string): void {
  dict.incr(CHANGES + key, 1, 0);
  dict.incr(ALL_CHANGES, 1, 0);
  ngx.log(ngx.WARN, "health: server ", key, ": ", from, " -> ", to, " (", why, ")");
}

/** How many times the server changed state since the node started. */
export function changeCount(key: string): number {
  const [n] = dict.get(CHANGES + key);
  return n ?? 0;
}

// --- requests in flight

/** This worker's requests in flight, by peer key, and the keys changed since the last publish. */
const inflight = new LuaTable<string, number>();
let changedKeys = new LuaTable<string, boolean>();

/** A request started on the peer (shown as `active`, summed over the node's workers). */
export function enter(peer: Peer): void {
  const key = peer.key;
  inflight.set(key, (inflight.get(key) ?? 0) + 1);
  changedKeys.set(key, true);
}

/** A request on the peer (key: the peer's key) ended. */
export function leave(key: string): void {
  const n = (inflight.get(key) ?? 0) - 1;
  inflight.set(key, n > 0 ? n : 0);
  changedKeys.set(key, true);
}

function workerSuffix(): string {
  return "|" + (ngx.worker.id() ?? 0);
}

/** Writes this worker's changed in-flight counts to the shared dict. */
export function publishInflight(): void {
  if (next(changedKeys)[0] === undefined) return;
  const suffix = workerSuffix();
  for (const [key] of changedKeys) {
    const n = inflight.get(key) ?? 0;
    if (n > 0) dict.set(ACTIVE + key + suffix, n);
    else dict.delete(ACTIVE + key + suffix);
  }
  changedKeys = new LuaTable();
}

/** A new worker forgets what an earlier worker with its id published (its requests are gone). */
export function forgetInflight(): void {
  const suffix = workerSuffix();
  for (const k of dict.get_keys(0)) {
    if (string.sub(k, 1, 2) === ACTIVE && string.sub(k, -suffix.length) === suffix) dict.delete(k);
  }
}

/** Requests in flight on the peer, on this node (as last published by each worker). */
export function activeOnNode(key: string): number {
  let total = 0;
  for (let w = 0; w < ngx.worker.count(); w++) {
    const [n] = dict.get(ACTIVE + key + "|" + w);
    if (n !== undefined) total = total + n;
  }
  return total;
}
