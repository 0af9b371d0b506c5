// Smooth weighted round robin, as nginx does it: every pick adds each candidate's weight to
// its current score, takes the highest, and subtracts the total from the winner. With weights
// 5,1,1 the sequence is a a b a c a a. This module is on the hot path: plain Lua only.

import { ServerParams } from "../server-params";

export interface Peer {
  /** "host:port" as configured (the etcd key) */
  addr: string;
  /** the address to connect to: an IP (names are resolved when the upstream is applied) */
  ip: string;
  port: number;
  /** names this peer in state shared by workers (health): "<upstream>|<addr>" */
  key: string;
  params: ServerParams;
  current: number;
}

export interface RoundRobin {
  primaries: Peer[];
  backups: Peer[];
  /** primaries + backups not marked down: 0 means the upstream can never answer */
  usable: number;
}

/** Decides per request whether a peer may be picked (not failed, not tried already). */
export type PeerFilter = (this: void, peer: Peer, arg: unknown) => boolean;

export function newRoundRobin(peers: Peer[]): RoundRobin {
  const rr: RoundRobin = { primaries: [], backups: [], usable: 0 };
  for (const p of peers) {
    p.current = 0;
    if (p.params.backup) rr.backups.push(p);
    else rr.primaries.push(p);
    if (!p.params.down) rr.usable = rr.usable + 1;
  }
  return rr;
}

function pickFrom(peers: Peer[], filter: PeerFilter | undefined, arg: unknown): Peer | undefined {
  let best: Peer | undefined = undefined;
  let total = 0;
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i];
    if (!p.params.down && (filter === undefined || filter(p, arg))) {
      const w = p.params.weight;
      p.current = p.current + w;
      total = total + w;
      if (best === undefined || p.current > best.current) best = p;
    }
  }
  if (best !== undefined) best.current = best.current - total;
  return best;
}

/** The next peer: primaries first, backups only when no primary passes the filter. */
export function pick(rr: RoundRobin, filter: PeerFilter | undefined, arg: unknown): Peer | undefined {
  const p = pickFrom(rr.primaries, filter, arg);
  if (p !== undefined) return p;
  return pickFrom(rr.backups, filter, arg);
}
