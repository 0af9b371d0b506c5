// The interface every balancing algorithm module has (roundrobin, least_conn, chash, ewma):
//   create(peers, settings) -> state    once, when the upstream or its policy changes
//   pick(state, filter, arg, key, now)  a peer passing filter(peer, arg): primaries first,
//                                       backups only when no primary passes
//   started(state, peer)                a request went to peer
//   finished(state, peer, latency, now) it ended (latency in seconds, undefined on failure)
// State is per worker. On the hot path: plain Lua only.

import { Peer, PeerFilter } from "./peer";

/** Reads byte i (1-based) of s, as Lua's string.byte: hashing is the same in Lua and JS. */
export type ByteAt = (this: void, s: string, i: number) => number;

export interface AlgorithmSettings {
  /** chash: how strings are read (string.byte in Lua) */
  byteAt: ByteAt;
  /** ewma: seed of the random choices (1 .. 2^31-2) */
  seed: number;
}

export interface AlgorithmState {
  /** primaries + backups not marked down */
  usable: number;
}

export interface Algorithm {
  name: string;
  /** pick uses the request's hash key */
  hashed: boolean;
  /** finished wants the latency */
  timed: boolean;
  create(this: void, peers: Peer[], settings: AlgorithmSettings): AlgorithmState;
  pick(this: void, state: AlgorithmState, filter: PeerFilter | undefined, arg: unknown, key: string | undefined, now: number): Peer | undefined;
  started(this: void, state: AlgorithmState, peer: Peer): void;
  finished(this: void, state: AlgorithmState, peer: Peer, latency: number | undefined, now: number): void;
}
