// Lowest expected latency with the power of two choices: two distinct peers are drawn at
// random among those that pass the filter, and the one with the lower score wins, where
// score = (smoothed latency) * (requests in flight + 1) / weight. The latency is a peak-
// sensitive moving average (a slower answer counts at once, a faster one moves it by ALPHA),
// decayed towards 0 (time constant DECAY seconds) while a peer gets no answers, so that an
// idle peer is tried again. A peer never measured scores as the fastest. Per worker; plain
// Lua only (hot path). The random draws come from a seeded generator (the same in JS and Lua).

import { AlgorithmSettings } from "./algorithm";
import { Peer, PeerFilter, weightOf } from "./peer";

export const DECAY = 10;
/** how much one faster answer moves the average */
const ALPHA = 0.2;
const MODULUS = 2147483647;

export interface Ewma {
  peers: Peer[];
  /** Park-Miller generator state */
  seed: number;
  cand: Peer[];
}

/** 0 .. n-1 */
function draw(e: Ewma, n: number): number {
  e.seed = (e.seed * 16807) % MODULUS;
  return Math.floor(((e.seed - 1) / (MODULUS - 1)) * n);
}

function decayed(p: Peer, now: number): number {
  const dt = now - p.ewmaAt;
  if (dt <= 0 || p.ewma === 0) return p.ewma;
  return p.ewma * Math.exp(-dt / DECAY);
}

/** Latencies below this (and peers never measured) count as this: in-flight counts still matter. */
const FLOOR = 0.000001;

function score(p: Peer, now: number): number {
  const w = p.params.slowStart > 0 ? weightOf(p, now) : p.params.weight;
  let lat = decayed(p, now);
  if (lat < FLOOR) lat = FLOOR;
  return (lat * (p.conns + 1)) / w;
}

export function pick(e: Ewma, filter: PeerFilter | undefined, arg: unknown, _key: string | undefined, now: number): Peer | undefined {
  const peers = e.peers;
  const cand = e.cand;
  let n = 0;
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i];
    if (!p.params.down && (filter === undefined || filter(p, arg))) {
      cand[n] = p;
      n = n + 1;
    }
  }
  if (n === 0) return undefined;
  if (n === 1) return cand[0];
  const i = draw(e, n);
  let j = draw(e, n - 1);
  if (j >= i) j = j + 1;
  const a = cand[i];
  const b = cand[j];
  return score(b, now) < score(a, now) ? b : a;
}

export function create(peers: Peer[], settings: AlgorithmSettings): Ewma {
  let seed = Math.floor(settings.seed) % MODULUS;
  if (seed <= 0) seed = seed + MODULUS - 1;
  return { peers, seed, cand: [] };
}

export function started(peer: Peer): void {
  peer.conns = peer.conns + 1;
}

/** A request on `peer` ended: `latency` seconds (undefined: it failed, no sample). */
export function finished(peer: Peer, latency: number | undefined, now: number): void {
  if (peer.conns > 0) peer.conns = peer.conns - 1;
  if (latency === undefined) return;
  const current = decayed(peer, now);
  peer.ewma = latency > current ? latency : current + (latency - current) * ALPHA;
  peer.ewmaAt = now;
}
