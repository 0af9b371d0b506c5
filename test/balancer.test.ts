// The balancing algorithms (core/balancer/) under Node, against test/vectors/balancer.json
// (spec/unit/balancer_spec.lua runs the same vectors against the compiled Lua).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Algorithm } from "../src-lua/core/balancer/algorithm";
import { hash32 } from "../src-lua/core/balancer/hash";
import { newPeer, Peer } from "../src-lua/core/balancer/peer";
import { algorithms } from "../src-lua/core/balancer/algorithms";
import { parseServerParams } from "../src-lua/core/server-params";

const v = JSON.parse(readFileSync(new URL("./vectors/balancer.json", import.meta.url), "utf8"));
const byteAt = (s: string, i: number) => s.charCodeAt(i - 1);

interface PeerSpec {
  addr: string;
  params: string;
  conns?: number;
  since?: number;
  ewma?: number;
}

function peersOf(spec: PeerSpec[]): Peer[] {
  return spec.map((s) => {
    const p = newPeer(s.addr, "127.0.0.1", 1, s.addr, parseServerParams(s.params, "", [])!);
    p.conns = s.conns ?? 0;
    p.since = s.since ?? 0;
    p.ewma = s.ewma ?? 0;
    return p;
  });
}

function algo(name: string): Algorithm {
  return algorithms[name]!;
}

function expectShares(counts: Record<string, number>, picks: number, share: Record<string, number>, tolerance: number) {
  let total = 0;
  for (const n of Object.values(counts)) total += n;
  expect(total).toBe(picks);
  for (const [addr, want] of Object.entries(share)) {
    const got = (counts[addr] ?? 0) / picks;
    expect(Math.abs(got - want), `${addr}: ${got} vs ${want}`).toBeLessThanOrEqual(tolerance * want);
  }
}

describe("hash32", () => {
  for (const c of v.hashes) it(`hashes ${JSON.stringify(c.s)}`, () => expect(hash32(c.s, byteAt)).toBe(c.h));
});

describe("pick sequences", () => {
  for (const c of v.sequences) {
    it(c.name, () => {
      const a = algo(c.algorithm);
      const st = a.create(peersOf(c.peers), { byteAt, seed: 1 });
      const failed = new Set<string>(c.failed ?? []);
      const filter = (p: Peer) => !failed.has(p.addr);
      expect(c.picks.map(() => a.pick(st, filter, undefined, c.key, c.now ?? 0)?.addr ?? null)).toEqual(c.picks);
    });
  }
});

describe("distributions", () => {
  for (const c of v.distributions) {
    it(c.name, () => {
      const a = algo(c.algorithm);
      const st = a.create(peersOf(c.peers), { byteAt, seed: 1 });
      const counts: Record<string, number> = {};
      for (let i = 0; i < c.picks; i++) {
        const p = a.pick(st, undefined, undefined, c.keys ? `key-${i}` : undefined, c.now ?? 0)!;
        a.started(p);
        a.finished(p, 0.01, c.now ?? 0);
        counts[p.addr] = (counts[p.addr] ?? 0) + 1;
      }
      expectShares(counts, c.picks, c.share, c.tolerance);
    });
  }
});

describe("requests that last", () => {
  for (const c of v.load) {
    it(c.name, () => {
      const a = algo(c.algorithm);
      const st = a.create(peersOf(c.peers), { byteAt, seed: 1 });
      let inFlight: { end: number; peer: Peer }[] = [];
      const counts: Record<string, number> = {};
      for (let t = 0; t < c.ticks; t++) {
        const left: { end: number; peer: Peer }[] = [];
        for (const r of inFlight) {
          if (r.end <= t) a.finished(r.peer, undefined, t);
          else left.push(r);
        }
        inFlight = left;
        for (let k = 0; k < c.perTick; k++) {
          const p = a.pick(st, undefined, undefined, undefined, t)!;
          a.started(p);
          inFlight.push({ end: t + c.hold[p.addr], peer: p });
          counts[p.addr] = (counts[p.addr] ?? 0) + 1;
        }
      }
      expect(counts).toEqual(c.counts);
    });
  }
});

function ringOf(n: number, weights: number[] | undefined, skip: number) {
  const spec: PeerSpec[] = [];
  for (let i = 0; i < n; i++) if (i !== skip) spec.push({ addr: `10.1.0.${i + 1}:80`, params: weights ? `weight=${weights[i]}` : "" });
  return algo("chash").create(peersOf(spec), { byteAt, seed: 1 });
}

describe("chash remapping", () => {
  for (const c of v.remap) {
    it(c.name, () => {
      const a = algo("chash");
      // remove: n servers, then without server `index`; add: n servers, then n + 1
      const removed = c.index ?? -1;
      const before = c.change === "remove" ? ringOf(c.servers, c.weights, -1) : ringOf(c.servers, c.weights, -1);
      const after = c.change === "remove" ? ringOf(c.servers, c.weights, removed) : ringOf(c.servers + 1, c.weights, -1);
      const changed = c.change === "remove" ? `10.1.0.${removed + 1}:80` : `10.1.0.${c.servers + 1}:80`;
      let moved = 0;
      for (let i = 0; i < c.keys; i++) {
        const x = a.pick(before, undefined, undefined, `key-${i}`, 0)!.addr;
        const y = a.pick(after, undefined, undefined, `key-${i}`, 0)!.addr;
        if (x === y) continue;
        moved++;
        // only the keys of the server that left move, and only to the one that came
        expect(c.change === "remove" ? x : y).toBe(changed);
      }
      expect(moved / c.keys).toBeGreaterThanOrEqual(c.minMovedShare);
      expect(moved / c.keys).toBeLessThanOrEqual(c.maxMovedShare);
    });
  }
});

describe("ewma under latency", () => {
  for (const c of v.latency) {
    it(c.name, () => {
      const a = algo("ewma");
      const st = a.create(peersOf(c.peers), { byteAt, seed: c.seed });
      const counts: Record<string, number> = {};
      let now = 0;
      for (let i = 0; i < c.picks; i++) {
        const p = a.pick(st, undefined, undefined, undefined, now)!;
        a.started(p);
        a.finished(p, c.latency[p.addr], now);
        counts[p.addr] = (counts[p.addr] ?? 0) + 1;
        now += c.step;
      }
      for (const [addr, max] of Object.entries<number>(c.maxShare ?? {})) expect((counts[addr] ?? 0) / c.picks, addr).toBeLessThanOrEqual(max);
      for (const [addr, min] of Object.entries<number>(c.minShare ?? {})) expect((counts[addr] ?? 0) / c.picks, addr).toBeGreaterThanOrEqual(min);
    });
  }
});
