// Weighted least connections: the peer with the fewest requests in flight per unit of weight
// (this worker's count); ties go round robin by weight, as nginx's least_conn does. With
// nothing in flight it is exactly smooth weighted round robin. Plain Lua only (hot path).

import { AlgorithmSettings } from "./algorithm";
import { Peer, PeerFilter, splitPeers, weightOf } from "./peer";

export interface LeastConn {
  primaries: Peer[];
  backups: Peer[];
  usable: number;
  /** reused per pick: the peers that passed the filter, and their weights */
  cand: Peer[];
  weights: number[];
}

function pickFrom(lc: LeastConn, peers: Peer[], filter: PeerFilter | undefined, arg: unknown, now: number): Peer | undefined {
  const cand = lc.cand;
  const weights = lc.weights;
  let n = 0;
  // pass 1: the lowest conns/weight (compared crosswise: no division)
  let bestConns = -1;
  let bestWeight = 1;
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i];
    if (!p.params.down && (filter === undefined || filter(p, arg))) {
      const w = p.params.slowStart > 0 ? weightOf(p, now) : p.params.weight;
      cand[n] = p;
      weights[n] = w;
      n = n + 1;
      if (bestConns < 0 || p.conns * bestWeight < bestConns * w) {
        bestConns = p.conns;
        bestWeight = w;
      }
    }
  }
  if (n === 0) return undefined;
  // pass 2: smooth weighted round robin among the peers that tie for it
  let best: Peer | undefined = undefined;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const p = cand[i];
    const w = weights[i];
    if (p.conns * bestWeight === bestConns * w) {
      p.current = p.current + w;
      total = total + w;
      if (best === undefined || p.current > best.current) best = p;
    }
  }
  best!.current = best!.current - total;
  return best;
}

export function create(peers: Peer[], _settings: AlgorithmSettings): LeastConn {
  const set = splitPeers(peers);
  return { primaries: set.primaries, backups: set.backups, usable: set.usable, cand: [], weights: [] };
}

export function pick(lc: LeastConn, filter: PeerFilter | undefined, arg: unknown, _key: string | undefined, now: number): Peer | undefined {
  const p = pickFrom(lc, lc.primaries, filter, arg, now);
  if (p !== undefined) return p;
  return pickFrom(lc, lc.backups, filter, arg, now);
}

export function started(_lc: LeastConn, peer: Peer): void {
  peer.conns = peer.conns + 1;
}

export function finished(_lc: LeastConn, peer: Peer, _latency: number | undefined, _now: number): void {
  if (peer.conns > 0) peer.conns = peer.conns - 1;
}
