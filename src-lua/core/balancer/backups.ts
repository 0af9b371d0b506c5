// Primaries first, backups only when no primary passes the filter, around any algorithm: the
// algorithm gets a state for each list and picks among one list at a time. A pick costs the
// same calls as an algorithm that did this itself. Plain Lua only (hot path).

import { Algorithm, AlgorithmModule, AlgorithmSettings, AlgorithmState, AlgorithmTraits } from "./algorithm";
import { Peer, PeerFilter, splitPeers } from "./peer";

interface Tiers {
  primary: AlgorithmState;
  backup: AlgorithmState;
}

/** The algorithm `one` (which sees one list) over an upstream's primaries, then its backups. */
export function withBackups(traits: AlgorithmTraits, one: AlgorithmModule): Algorithm {
  const createOne = one.create;
  const pickOne = one.pick;
  function create(this: void, peers: Peer[], settings: AlgorithmSettings): Tiers {
    const set = splitPeers(peers);
    return { primary: createOne(set.primaries, settings), backup: createOne(set.backups, settings) };
  }
  function pick(this: void, t: Tiers, filter: PeerFilter | undefined, arg: unknown, key: string | undefined, now: number): Peer | undefined {
    const p = pickOne(t.primary, filter, arg, key, now);
    if (p !== undefined) return p;
    return pickOne(t.backup, filter, arg, key, now);
  }
  return { name: traits.name, hashed: traits.hashed, timed: traits.timed, create, pick, started: one.started, finished: one.finished };
}
