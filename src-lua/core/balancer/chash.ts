// Consistent hashing: each server owns points on a ring of 32-bit hashes (160 per unit of
// weight, fewer when the ring would pass MAX_POINTS), and a key goes to the owner of the
// first point at or after the key's hash. Adding or removing one of N servers moves only the
// keys of the points it gains or loses: about 1/N of them. A server that cannot be used is
// skipped clockwise, so its keys spread over the others and come back when it does.
// Slow start does not apply (a ring cannot ramp). Plain Lua only (hot path).

import { AlgorithmSettings, ByteAt } from "./algorithm";
import { hash32 } from "./hash";
import { Peer, PeerFilter } from "./peer";

export const POINTS_PER_WEIGHT = 160;
export const MAX_POINTS = 16000;

/** The ring of one list of peers (backups.ts gives primaries and backups a ring each). */
export interface Chash {
  /** point hashes, ascending */
  hashes: number[];
  /** the index in `peers` of each point's owner */
  owners: number[];
  peers: Peer[];
  /** per peer: the last pick that looked at it (each peer is asked once per pick) */
  marks: number[];
  gen: number;
  byteAt: ByteAt;
}

interface Point {
  h: number;
  owner: number;
  n: number;
}

function before(a: Point, b: Point, peers: Peer[]): boolean {
  if (a.h !== b.h) return a.h < b.h;
  const pa = peers[a.owner].addr;
  const pb = peers[b.owner].addr;
  if (pa !== pb) return pa < pb;
  return a.n < b.n;
}

function sift(pts: Point[], peers: Peer[], start: number, end: number): void {
  let root = start;
  for (;;) {
    let child = root * 2 + 1;
    if (child > end) return;
    if (child + 1 <= end && before(pts[child], pts[child + 1], peers)) child = child + 1;
    if (!before(pts[root], pts[child], peers)) return;
    const t = pts[root];
    pts[root] = pts[child];
    pts[child] = t;
    root = child;
  }
}

/** Heap sort (table.sort and Array.sort differ and would pull in helpers). */
function sortPoints(pts: Point[], peers: Peer[]): void {
  const n = pts.length;
  for (let s = Math.floor((n - 2) / 2); s >= 0; s--) sift(pts, peers, s, n - 1);
  for (let end = n - 1; end > 0; end--) {
    const t = pts[0];
    pts[0] = pts[end];
    pts[end] = t;
    sift(pts, peers, 0, end - 1);
  }
}

export function create(list: Peer[], settings: AlgorithmSettings): Chash {
  const byteAt = settings.byteAt;
  const peers: Peer[] = [];
  let total = 0;
  for (const p of list) {
    if (!p.params.down) {
      peers.push(p);
      total = total + p.params.weight;
    }
  }
  let scale = 1;
  if (total * POINTS_PER_WEIGHT > MAX_POINTS) scale = MAX_POINTS / (total * POINTS_PER_WEIGHT);
  const pts: Point[] = [];
  const marks: number[] = [];
  for (let o = 0; o < peers.length; o++) {
    marks.push(0);
    let count = Math.floor(POINTS_PER_WEIGHT * peers[o].params.weight * scale + 0.5);
    if (count < 1) count = 1;
    for (let n = 0; n < count; n++) pts.push({ h: hash32(`${peers[o].addr}#${n}`, byteAt), owner: o, n });
  }
  sortPoints(pts, peers);
  const hashes: number[] = [];
  const owners: number[] = [];
  for (const pt of pts) {
    hashes.push(pt.h);
    owners.push(pt.owner);
  }
  return { hashes, owners, peers, marks, gen: 0, byteAt };
}

/** The index of the first point at or after h (0 past the end: the ring wraps). */
function firstAtOrAfter(hashes: number[], h: number): number {
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (hashes[mid] < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === hashes.length ? 0 : lo;
}

/** The peer for `key` (the request's hash key; "" when it has none). */
export function pick(c: Chash, filter: PeerFilter | undefined, arg: unknown, key: string | undefined, _now: number): Peer | undefined {
  const len = c.hashes.length;
  if (len === 0) return undefined;
  const gen = c.gen + 1;
  c.gen = gen;
  const distinct = c.peers.length;
  const marks = c.marks;
  let seen = 0;
  let i = firstAtOrAfter(c.hashes, hash32(key === undefined ? "" : key, c.byteAt));
  for (let step = 0; step < len; step++) {
    const o = c.owners[i];
    if (marks[o] !== gen) {
      marks[o] = gen;
      const p = c.peers[o];
      if (filter === undefined || filter(p, arg)) return p;
      seen = seen + 1;
      if (seen === distinct) return undefined;
    }
    i = i + 1;
    if (i === len) i = 0;
  }
  return undefined;
}

export function started(_peer: Peer): void {}

export function finished(_peer: Peer, _latency: number | undefined, _now: number): void {}
