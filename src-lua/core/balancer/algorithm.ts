// The interface every balancing algorithm module has (roundrobin, least_conn, chash, ewma).
// An algorithm sees one list of peers; backups.ts puts "primaries, then backups" around it:
//   create(peers, settings) -> state    once per list, when the upstream or its policy changes
//   pick(state, filter, arg, key, now)  a peer of the list that is not down and passes
//                                       filter(peer, arg), or undefined
//   started(peer)                       a request went to peer
//   finished(peer, latency, now)        it ended (latency in seconds, undefined on failure)
// What started/finished learn is kept on the Peer (per worker), so they need no state.
// On the hot path: plain Lua only.

import { Peer, PeerFilter } from "./peer";

/** Reads byte i (1-based) of s, as Lua's string.byte: hashing is the same in Lua and JS. */
export type ByteAt = (this: void, s: string, i: number) => number;

export interface AlgorithmSettings {
  /** chash: how strings are read (string.byte in Lua) */
  byteAt: ByteAt;
  /** ewma: seed of the random choices (1 .. 2^31-2) */
  seed: number;
}

/** What create returns and pick is given: per algorithm, per worker. */
export type AlgorithmState = object;

/** What a policy's algorithm is, besides its functions. */
export interface AlgorithmTraits {
  name: string;
  /** pick uses the request's hash key */
  hashed: boolean;
  /** finished wants the latency */
  timed: boolean;
}

/** What an algorithm module exports. */
export interface AlgorithmModule {
  create(this: void, peers: Peer[], settings: AlgorithmSettings): AlgorithmState;
  pick(this: void, state: AlgorithmState, filter: PeerFilter | undefined, arg: unknown, key: string | undefined, now: number): Peer | undefined;
  started(this: void, peer: Peer): void;
  finished(this: void, peer: Peer, latency: number | undefined, now: number): void;
}

export interface Algorithm extends AlgorithmTraits, AlgorithmModule {}
