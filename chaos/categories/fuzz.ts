// Admin API fuzzing: generated bodies for every resource that manages a kind, each case
// checked against etcd and the API afterwards. A misbehaviour is an answer >= 500, no answer
// within 2 s, a change on a refusal or a change other than the one acknowledged (a partial
// apply), an acknowledged body that the shared validation refuses or that is not JSON, a GET
// that disagrees with etcd, and a crash or Lua error in the error log.
import fc from "fast-check";
import { startBackend, startElb, startEtcd, stopAll, request, type Elb } from "../../test/harness/index.mjs";
import { publicView, readCertificates } from "../../src-lua/core/certs";
import { KINDS, Kind, parseKey, sectionPrefix } from "../../src-lua/core/kinds/index";
import { planDelete, planPut } from "../../src-lua/core/kinds/plan";
import { Problem } from "../../src-lua/core/problems";
import { build, Built, caseArb, examples, kindFuzz, KindFuzz } from "../fuzz/bodies";
import { changedKeys, readState, State } from "../lib/etcd-state";
import { same } from "../lib/same";
import { Tally } from "../lib/tally";
import { LogWatch, workerSet } from "../lib/watch";
import type { Options } from "../run";

const HANG_MS = 2000;
const MAX_BODY = 16 * 1024 * 1024;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function strictJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(strictUtf8.decode(body)) };
  } catch {
    return { ok: false };
  }
}

/** The resources under /__erulb__/ (from the 404 answer that lists them). */
async function resources(elb: Elb): Promise<string[]> {
  const r = await elb.api("GET", "__chaos_none__");
  return [...String(r.json?.msg ?? "").matchAll(/\/__erulb__\/(\w+)/g)].map((m) => m[1]);
}

/** Which resource manages each kind: the one whose PUT of a valid body writes that kind's keys. */
async function mapResources(elb: Elb, kinds: KindFuzz[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const all = await resources(elb);
  for (const k of kinds) {
    const name = k.names[0];
    const body = k.kind.grouped ? { [name]: { [k.members[0]]: k.values[0] } } : { [name]: k.values[0] };
    for (const r of all) {
      if (out.has(k.kind.id)) break;
      const put = await elb.api("PUT", r, body);
      if (put.status !== 200) continue;
      const state = await readState(elb.etcd, elb.elbName);
      const prefix = sectionPrefix(elb.elbName, k.kind) + name;
      if ([...state.keys()].some((key) => key === prefix || key.startsWith(`${prefix}/`))) {
        out.set(k.kind.id, r);
        await elb.api("DELETE", r, [name]);
      }
    }
  }
  return out;
}

/** Problems that only say JavaScript's regex engine disagrees with PCRE (elbctl's known limit). */
const regexOnly = (ps: Problem[]) => ps.length > 0 && ps.every((p) => /invalid regex/.test(p.error));

function describeProblems(ps: Problem[]): string {
  return ps.slice(0, 3).map((p) => `${p.path}: ${p.error}`).join("; ");
}

/** What GET shows of a stored value, for the kinds that do not answer it as stored. */
const GET_VIEWS: { [kind: string]: (value: unknown) => unknown } = {
  cert: (value) => {
    const summary = readCertificates(value, "", []);
    return summary && publicView(summary);
  },
};
/** views by stored text: reading every stored certificate after every case would be most of the run */
const viewed = new Map<string, unknown>();

/** The kind's section as a GET would show it, from etcd. */
function expectedView(kind: Kind, state: State, elbName: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, s] of state) {
    const ref = parseKey(elbName, key);
    if (!ref || ref.kind.id !== kind.id) continue;
    if (kind.grouped) {
      const members = (out.get(ref.name) as Set<string>) ?? new Set<string>();
      members.add(ref.member);
      out.set(ref.name, members);
    } else {
      const problems: Problem[] = [];
      const text = s.value.toString("utf8");
      const view = GET_VIEWS[kind.id];
      if (!view) out.set(ref.name, kind.decode(text, key, problems));
      else {
        if (!viewed.has(text)) viewed.set(text, view(kind.decode(text, key, problems)));
        out.set(ref.name, viewed.get(text));
      }
    }
  }
  return out;
}

function compareGet(kind: Kind, got: any, want: Map<string, unknown>): string | undefined {
  if (!got || typeof got !== "object") return `GET answered ${JSON.stringify(got)?.slice(0, 100)}`;
  const names = Object.keys(got).sort();
  const wantNames = [...want.keys()].sort();
  if (names.join("\n") !== wantNames.join("\n")) return `GET names ${JSON.stringify(names).slice(0, 200)}, etcd ${JSON.stringify(wantNames).slice(0, 200)}`;
  for (const n of names) {
    if (kind.grouped) {
      const list = got[n];
      if (!Array.isArray(list) || !list.every((s) => s && typeof s.addr === "string")) continue;
      const members = list.map((s: { addr: string }) => s.addr).sort();
      const w = [...(want.get(n) as Set<string>)].sort();
      if (members.join() !== w.join()) return `GET ${n} has ${members.join()}, etcd ${w.join()}`;
    } else if (!same(got[n], want.get(n))) {
      return `GET ${n} = ${JSON.stringify(got[n]).slice(0, 150)}, etcd ${JSON.stringify(want.get(n)).slice(0, 150)}`;
    }
  }
  return undefined;
}

/** What etcd must hold after an acknowledged write of `plan`; a message when it does not. */
function checkApplied(kind: Kind, plan: ReturnType<typeof planPut>, before: State, after: State): string | undefined {
  const changed = new Set(changedKeys(before, after));
  const allowed = new Set<string>();
  for (const p of plan.puts) {
    allowed.add(p.key);
    const got = after.get(p.key);
    if (!got) return `acknowledged, but ${p.key} is not in etcd`;
    const problems: Problem[] = [];
    const want = kind.decode(p.value, p.key, problems);
    const have = kind.decode(got.value.toString("utf8"), p.key, problems);
    if (!same(want, have)) return `acknowledged, but ${p.key} holds ${got.value.toString("utf8").slice(0, 120)}`;
  }
  for (const key of plan.deletes) {
    allowed.add(key);
    if (after.has(key)) return `acknowledged, but ${key} is still in etcd`;
  }
  for (const g of plan.groups) {
    for (const key of after.keys()) {
      if (key.startsWith(g.prefix) && !plan.puts.some((p) => p.key === key)) return `acknowledged, but ${key} is left in the group ${g.name}`;
    }
    for (const key of before.keys()) if (key.startsWith(g.prefix)) allowed.add(key);
  }
  for (const key of changed) if (!allowed.has(key)) return `acknowledged, and ${key} changed too`;
  return undefined;
}

/**
 * The cases issue 14 names, first of all (whatever the seed): a NaN where the kind has a
 * number, and a valid body too large for one etcd transaction.
 */
function namedCases(k: KindFuzz, elbName: string): Built[] {
  const out: Built[] = [];
  const name = k.names[0];
  // NaN for each number of the first example that has numbers, one at a time
  for (const ex of k.examples) {
    const text = JSON.stringify({ [name]: Object.values(ex)[0] });
    const numbers = [...text.matchAll(/:(-?\d+(?:\.\d+)?)(?=[,}\]])/g)];
    for (const m of numbers.slice(0, 20)) {
      const at = m.index! + 1;
      out.push({ method: "PUT", body: Buffer.from(text.slice(0, at) + "NaN" + text.slice(at + m[1].length)), what: `${k.kind.id} named: NaN for the number at ${at}` });
    }
    if (numbers.length > 0) break;
  }
  // a valid body over etcd's request size, from the first example that can carry one
  for (let e = 0; e < k.values.length; e++) {
    const big = build([k], { method: "PUT", kind: 0, example: e, names: [0], members: [0], shape: { shape: "big", size: 2 * 1024 * 1024, valid: true }, seed: 1 }, elbName);
    if (/valid/.test(big.what)) {
      out.push({ ...big, what: `${k.kind.id} named: valid, over etcd's request size` });
      break;
    }
  }
  return out;
}

export async function run(opts: Options): Promise<Tally> {
  const t = new Tally("fuzz", "Admin API fuzzing");
  const perResource = opts.quick ? 300 : Number(process.env.CHAOS_FUZZ_CASES ?? 10000);
  const seed = opts.seed;
  const etcd = await startEtcd();
  const backend = await startBackend("fuzz");
  const elb = await startElb({ etcd: etcd.endpoint, workers: 2, env: opts.env });
  try {
    await elb.waitLoaded(15000);
    await elb.api("PUT", "upstream", { fzup: { [backend.addr]: "" } });
    const ex = examples();
    const kinds: KindFuzz[] = [];
    for (const kind of KINDS) {
      const bodies = ex.get(kind.id) ?? [];
      if (bodies.length === 0) {
        t.misbehave(kind.id, "a kind without a valid example (add put vectors to test/vectors/kinds.json)", undefined, 5);
        continue;
      }
      kinds.push(kindFuzz(kind, bodies));
    }
    const mapping = await mapResources(elb, kinds);
    for (const k of kinds) if (!mapping.has(k.kind.id)) t.notes.push(`kind ${k.kind.id}: no admin resource writes it (fuzzed as values written by hand only)`);
    const log = LogWatch.of(elb);
    const workers = workerSet(elb);
    let state = await readState(etcd.endpoint, elb.elbName);
    const figures = { ok: 0, refused: 0, byStatus: {} as Record<string, number>, disagreements: 0, disagreementExamples: [] as string[], slowestMs: 0, biggestBody: 0 };
    for (const k of kinds) {
      const resource = mapping.get(k.kind.id);
      if (!resource) continue;
      const one = [k];
      const cases = fc.sample(caseArb(one), { seed: seed + KINDS.indexOf(k.kind), numRuns: perResource });
      const named = namedCases(k, elb.elbName);
      for (let i = 0; i < named.length + cases.length; i++) {
        const b = i < named.length ? named[i] : build(one, cases[i - named.length], elb.elbName);
        const index = i < named.length ? `named ${i + 1}` : `#${i - named.length} (seed ${seed + KINDS.indexOf(k.kind)})`;
        const name = `${resource} ${index}: ${b.what}, ${b.body.length} bytes: ${b.body.subarray(0, 160).toString("latin1")}`;
        const problems: { what: string; detail?: string; severity?: number }[] = [];
        figures.biggestBody = Math.max(figures.biggestBody, b.body.length);
        const started = Date.now();
        let status = 0;
        let answer = "";
        try {
          const r = await request({ port: elb.port, method: b.method, path: `/__erulb__/${resource}`, headers: { ...elb.adminHeaders(), "Content-Type": "application/json" }, body: b.body, timeoutMs: HANG_MS, keepalive: b.body.length < MAX_BODY });
          status = r.status;
          answer = r.body.slice(0, 300);
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          // nginx refuses a body over client_max_body_size and may close while it is sent
          if (!(b.body.length > MAX_BODY && /EPIPE|ECONNRESET|socket hang up/.test(msg))) {
            problems.push({ what: /timed out/.test(msg) ? "no answer within 2 s" : "no answer", detail: msg, severity: 8 });
          } else status = 413;
        }
        const ms = Date.now() - started;
        figures.slowestMs = Math.max(figures.slowestMs, ms);
        figures.byStatus[status] = (figures.byStatus[status] ?? 0) + 1;
        if (status >= 500) problems.push({ what: "answered >= 500", detail: `${status} ${answer}`, severity: 9 });
        const after = await readState(etcd.endpoint, elb.elbName);
        const changed = changedKeys(state, after);
        if (status !== 200) {
          figures.refused++;
          if (changed.length > 0) problems.push({ what: "partial apply: refused but changed", detail: `${status} ${answer}; changed ${changed.slice(0, 5).join(", ")}`, severity: 10 });
          const j = strictJson(b.body);
          // a refusal of a body the Node side takes: the limits of one transaction, or a regex PCRE refuses
          if (j.ok && status === 400 && !/etcd operations/.test(answer)) {
            const ps: Problem[] = [];
            (b.method === "PUT" ? planPut : planDelete)(k.kind, elb.elbName, j.value, ps);
            if (ps.length === 0) {
              figures.disagreements++;
              if (figures.disagreementExamples.length < 5) figures.disagreementExamples.push(`${name.slice(0, 200)} -> ${answer.slice(0, 200)}`);
            }
          }
        } else {
          figures.ok++;
          const j = strictJson(b.body);
          if (!j.ok) {
            problems.push({ what: "accepted a body that is not JSON (RFC 8259)", detail: answer, severity: 7 });
          } else {
            const ps: Problem[] = [];
            const plan = (b.method === "PUT" ? planPut : planDelete)(k.kind, elb.elbName, j.value, ps);
            if (ps.length > 0 && !regexOnly(ps)) problems.push({ what: "accepted a body the shared validation refuses", detail: describeProblems(ps), severity: 7 });
            else if (ps.length === 0) {
              const why = checkApplied(k.kind, plan, state, after);
              if (why) problems.push({ what: "partial apply: state differs from what was acknowledged", detail: why, severity: 10 });
            }
            // traffic through what was just accepted
            for (const n of plan.names.slice(0, 1)) {
              await request({ port: elb.port, path: "/chaos", headers: { Host: n.replace(/[^\x21-\x7e]/g, "x") || "x" }, timeoutMs: HANG_MS, keepalive: true }).catch((e) => problems.push({ what: "traffic: no answer", detail: String(e), severity: 6 }));
            }
          }
        }
        const got = await request({ port: elb.port, path: `/__erulb__/${resource}`, headers: elb.adminHeaders(), keepalive: true });
        const diff = compareGet(k.kind, got.json, expectedView(k.kind, after, elb.elbName));
        if (diff) problems.push({ what: "GET disagrees with etcd", detail: diff, severity: 8 });
        for (const line of log.crashes()) problems.push({ what: "crash or Lua error in the error log", detail: line, severity: 9 });
        if (workerSet(elb) !== workers) problems.push({ what: "a worker died", detail: `${workers} -> ${workerSet(elb)}`, severity: 10 });
        t.count(name, problems);
        state = after;
        if ((i + 1) % 2000 === 0) opts.log(`fuzz: /__erulb__/${resource} ${i + 1}/${cases.length}, ${t.misbehaved} misbehaved so far ${JSON.stringify(t.result().byKind)}`);
      }
      t.figures[resource] = { cases: named.length + cases.length, named: named.length, seed: seed + KINDS.indexOf(k.kind) };
    }
    Object.assign(t.figures, figures);
    t.notes.push(`resources fuzzed: ${[...mapping].map(([kind, r]) => `/__erulb__/${r} (kind ${kind})`).join(", ")}; ${perResource} generated bodies each, seed ${seed}`);
  } finally {
    await stopAll();
  }
  return t;
}
