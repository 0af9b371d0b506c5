// Weighted least connections: the peer with the fewest requests in flight per unit of weight
// (this worker's count); ties go round robin by weight, as nginx's least_conn does. With
// nothing in flight it is exactly smooth weighted round robin. Plain Lua only (hot path).

import { AlgorithmSettings } from "./algorithm";
import { Peer, PeerFilter, weightOf } from "./peer";
import * as roundrobin from "./roundrobin";

export interface LeastConn {
  peers: Peer[];
  /** refilled per pick: the peers that tie for the fewest in flight per unit of weight */
  ties: roundrobin.RoundRobin;
}

export function create(peers: Peer[], _settings: AlgorithmSettings): LeastConn {
  return { peers, ties: { peers: [], n: 0 } };
}

export function pick(lc: LeastConn, filter: PeerFilter | undefined, arg: unknown, _key: string | undefined, now: number): Peer | undefined {
  const peers = lc.peers;
  const ties = lc.ties;
  const tied = ties.peers;
  let n = 0;
  // the lowest conns/weight so far (compared crosswise: no division), and who ties for it
  let bestConns = -1;
  let bestWeight = 1;
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i];
    if (!p.params.down && (filter === undefined || filter(p, arg))) {
      const w = p.params.slowStart > 0 ? weightOf(p, now) : p.params.weight;
      const conns = p.conns;
      if (bestConns < 0 || conns * bestWeight < bestConns * w) {
        bestConns = conns;
        bestWeight = w;
        n = 0;
      }
      if (conns * bestWeight === bestConns * w) {
        tied[n] = p;
        n = n + 1;
      }
    }
  }
  if (n === 0) return undefined;
  ties.n = n;
  return roundrobin.pick(ties, undefined, undefined, undefined, now);
}

export function started(peer: Peer): void {
  peer.conns = peer.conns + 1;
}

export function finished(peer: Peer, _latency: number | undefined, _now: number): void {
  if (peer.conns > 0) peer.conns = peer.conns - 1;
}
