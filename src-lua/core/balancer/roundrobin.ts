// Smooth weighted round robin, as nginx does it: every pick adds each candidate's weight to
// its current score, takes the highest, and subtracts the total from the winner. With weights
// 5,1,1 the sequence is a a b a c a a. A slow-starting server counts with its ramped weight.
// least_conn breaks its ties with this same pick. This module is on the hot path: plain Lua only.

import { AlgorithmSettings } from "./algorithm";
import { Peer, PeerFilter, weightOf } from "./peer";

export interface RoundRobin {
  peers: Peer[];
  /** how many of `peers` take part, from the first (least_conn refills one RoundRobin per pick) */
  n: number;
}

export function create(peers: Peer[], _settings: AlgorithmSettings): RoundRobin {
  return { peers, n: peers.length };
}

/**
 * Peers i.. of the pick: each step tail-calls the next rather than looping, so the balancer
 * phase's trace records the pick inline (a loop in it is an inner loop of that trace, which
 * aborts it: the phase then runs in LuaJIT's interpreter).
 */
function scan(peers: Peer[], i: number, n: number, filter: PeerFilter | undefined, arg: unknown, now: number, best: Peer | undefined, total: number): Peer | undefined {
  if (i >= n) {
    if (best !== undefined) best.current = best.current - total;
    return best;
  }
  const p = peers[i];
  if (!p.params.down && (filter === undefined || filter(p, arg))) {
    const w = p.params.slowStart > 0 ? weightOf(p, now) : p.params.weight;
    p.current = p.current + w;
    return scan(peers, i + 1, n, filter, arg, now, best === undefined || p.current > best.current ? p : best, total + w);
  }
  return scan(peers, i + 1, n, filter, arg, now, best, total);
}

/** The next of the peers that are not down and pass the filter. */
export function pick(rr: RoundRobin, filter: PeerFilter | undefined, arg: unknown, _key: string | undefined, now: number): Peer | undefined {
  return scan(rr.peers, 0, rr.n, filter, arg, now, undefined, 0);
}

export function started(_peer: Peer): void {}

export function finished(_peer: Peer, _latency: number | undefined, _now: number): void {}
