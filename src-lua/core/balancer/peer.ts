// A server as the balancing algorithms see it, and what they share: the split into primaries
// and backups, how many servers can be used, and the weight a server has now (slow start).
// On the hot path: plain Lua only.

import { ServerParams } from "../server-params";

export interface Peer {
  /** "host:port" as configured (the etcd key) */
  addr: string;
  /** the address to connect to: an IP (names are resolved when the upstream is applied) */
  ip: string;
  port: number;
  /** names this peer in state shared by workers (health): "<upstream>|<addr>" */
  key: string;
  /** its keys in the elb_health shared dict, made once rather than per request by the dict's
   *  owner (health/state.ts fillKeys); "" until then */
  downKey: string;
  stateKey: string;
  params: ServerParams;
  /** smooth weighted round robin's running score (roundrobin, least_conn ties) */
  current: number;
  /** the opaque value of the sticky cookie that names this peer ("" when unused) */
  id: string;
  /** when the server joined or last recovered, in seconds (slow start ramps from here) */
  since: number;
  /** this worker's requests in flight on the peer (least_conn, ewma) */
  conns: number;
  /** ewma: the smoothed latency in seconds, and when it was last updated */
  ewma: number;
  ewmaAt: number;
  /** an active health check runs for this peer: its node-wide state must be read */
  checked: boolean;
}

/** Decides per request whether a peer may be picked (not failed, not tried already). */
export type PeerFilter = (this: void, peer: Peer, arg: unknown) => boolean;

export function newPeer(addr: string, ip: string, port: number, key: string, params: ServerParams): Peer {
  return {
    addr,
    ip,
    port,
    key,
    downKey: "",
    stateKey: "",
    params,
    current: 0,
    id: "",
    since: 0,
    conns: 0,
    ewma: 0,
    ewmaAt: 0,
    checked: false,
  };
}

export interface PeerSet {
  primaries: Peer[];
  backups: Peer[];
}

/** The primaries and the backups; smooth round robin starts over (a new set of peers). */
export function splitPeers(peers: Peer[]): PeerSet {
  const set: PeerSet = { primaries: [], backups: [] };
  for (const p of peers) {
    p.current = 0;
    if (p.params.backup) set.backups.push(p);
    else set.primaries.push(p);
  }
  return set;
}

/** Primaries + backups not marked down: 0 means the upstream can never answer. */
export function usableCount(peers: Peer[]): number {
  let n = 0;
  for (const p of peers) if (!p.params.down) n = n + 1;
  return n;
}

/** The smallest share of its weight a slow-starting server gets, right after it (re)joined. */
export const SLOW_START_FLOOR = 0.01;

/** The weight of `p` at time `now`: its configured weight, ramped up during slow start. */
export function weightOf(p: Peer, now: number): number {
  const w = p.params.weight;
  const ramp = p.params.slowStart;
  if (ramp <= 0) return w;
  const elapsed = now - p.since;
  if (elapsed >= ramp) return w;
  const f = elapsed / ramp;
  return f > SLOW_START_FLOOR ? w * f : w * SLOW_START_FLOOR;
}
