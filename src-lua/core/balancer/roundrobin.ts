// Smooth weighted round robin, as nginx does it: every pick adds each candidate's weight to
// its current score, takes the highest, and subtracts the total from the winner. With weights
// 5,1,1 the sequence is a a b a c a a. A slow-starting server counts with its ramped weight.
// This module is on the hot path: plain Lua only.

import { AlgorithmSettings } from "./algorithm";
import { Peer, PeerFilter, PeerSet, splitPeers, weightOf } from "./peer";

export { Peer, PeerFilter } from "./peer";

export type RoundRobin = PeerSet;

export function newRoundRobin(peers: Peer[]): RoundRobin {
  return splitPeers(peers);
}

/** Smooth WRR among the peers of `peers` that pass the filter; shared with least_conn's ties. */
export function pickFrom(peers: Peer[], filter: PeerFilter | undefined, arg: unknown, now: number): Peer | undefined {
  let best: Peer | undefined = undefined;
  let total = 0;
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i];
    if (!p.params.down && (filter === undefined || filter(p, arg))) {
      const w = p.params.slowStart > 0 ? weightOf(p, now) : p.params.weight;
      p.current = p.current + w;
      total = total + w;
      if (best === undefined || p.current > best.current) best = p;
    }
  }
  if (best !== undefined) best.current = best.current - total;
  return best;
}

/** The next peer: primaries first, backups only when no primary passes the filter. */
export function pick(rr: RoundRobin, filter: PeerFilter | undefined, arg: unknown, _key?: string, now?: number): Peer | undefined {
  const t = now === undefined ? 0 : now;
  const p = pickFrom(rr.primaries, filter, arg, t);
  if (p !== undefined) return p;
  return pickFrom(rr.backups, filter, arg, t);
}

export function create(peers: Peer[], _settings: AlgorithmSettings): RoundRobin {
  return splitPeers(peers);
}

export function started(_rr: RoundRobin, _peer: Peer): void {}

export function finished(_rr: RoundRobin, _peer: Peer, _latency: number | undefined, _now: number): void {}
