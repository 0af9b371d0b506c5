// Values written by hand (straight into etcd, as etcdctl would): every prefix under
// /$ELBNAME/, binary and 1 MiB values, JSON that is not JSON, odd keys. An invalid value must
// be skipped and listed in /__erulb__/status, the last valid one still serving; a valid one
// applied; a key that is no configuration ignored; nothing may crash.
import { startBackend, startElb, startEtcd, stopAll, type Elb } from "../../test/harness/index.mjs";
import "../../admin-cli/src/host";
import { checkStored, KINDS, parseKey, sectionPrefix } from "../../src-lua/core/kinds/index";
import { examples } from "../fuzz/bodies";
import { deleteRaw, putRaw } from "../lib/etcd-state";
import { Tally } from "../lib/tally";
import { LogWatch, workerSet } from "../lib/watch";
import type { Options } from "../run";

const NOT_JSON = ['{"a": NaN}', "{", "[1,]", "\u0000", '{"a": "\u0001"}', "null", "[]", "{}", "1e400", "0x10", '"x"'];

function values(valid: string): Buffer[] {
  const random = Buffer.alloc(512);
  for (let i = 0; i < random.length; i++) random[i] = (i * 7919 + 13) % 256;
  return [
    random,
    Buffer.from([0xff, 0xfe, 0x00, 0x01]),
    Buffer.alloc(1024 * 1024, "a"),
    Buffer.from(""),
    Buffer.concat([Buffer.from("["), Buffer.alloc(100000, "["), Buffer.alloc(100001, "]")]),
    Buffer.from(valid.replace(/"([^"]+)"\s*:/, '"$1": NaN, "$1":')),
    ...NOT_JSON.map((s) => Buffer.from(s)),
    Buffer.from(valid),
  ];
}

function oddNames(section: string, grouped: boolean): string[] {
  const s = section;
  const m = grouped ? "/127.0.0.1:80" : "";
  return [`${s}${m}`, `${s}a/b/c`, `${s}UPPER.test${m}`, `${s}a b${m}`, `${s}é.test${m}`, `${s}x\ny${m}`, `${s}a\u0000b${m}`, `${s}${"n".repeat(4000)}${m}`,
    `${s}.${m}`, `${s}..${m}`, grouped ? `${s}up/` : `${s}x/`, grouped ? `${s}up/127.0.0.1:0` : `${s}-x-`, grouped ? `${s}up/not-a-port` : `${s}a..b`];
}

interface Status {
  invalid_keys: Record<string, { revision: number; error: string }>;
  revision: number;
}

/** Waits until the node saw revision `rev`; a key outside its prefix moves nothing: a short wait. */
async function caughtUp(elb: Elb, rev: number, key?: string): Promise<Status> {
  if (key !== undefined && !key.startsWith(`/${elb.elbName}/`)) {
    await new Promise((r) => setTimeout(r, 50));
    rev = 0;
  }
  const deadline = Date.now() + 5000;
  for (;;) {
    const s = (await elb.api("GET", "status")).json as Status & { workers: { applied_event: number }[]; last_event: number };
    if (s.revision >= rev && s.workers.every((w) => w.applied_event >= s.last_event)) return s;
    if (Date.now() > deadline) throw new Error(`the node did not reach revision ${rev} within 5 s (at ${s.revision})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function run(opts: Options): Promise<Tally> {
  const t = new Tally("by-hand", "Values written by hand");
  const etcd = await startEtcd();
  const backend = await startBackend("hand");
  const elb = await startElb({ etcd: etcd.endpoint, workers: 2, env: opts.env });
  const name = elb.elbName;
  try {
    await elb.waitLoaded(15000);
    const log = LogWatch.of(elb);
    const workers = workerSet(elb);
    const ex = examples();
    const allowed = [/is invalid and skipped/, /skipping invalid value/];
    const check = (caseName: string, problems: { what: string; detail?: string; severity?: number }[]) => {
      for (const line of log.crashes([], allowed)) problems.push({ what: "crash or Lua error in the error log", detail: line, severity: 9 });
      if (workerSet(elb) !== workers) problems.push({ what: "a worker died", severity: 10 });
      t.count(caseName, problems);
    };
    const prefixes: { prefix: string; valid?: string; kind?: (typeof KINDS)[number] }[] = [];
    for (const kind of KINDS) {
      const body = ex.get(kind.id)?.[0];
      let valid: string | undefined;
      if (body) {
        const v = Object.values(body)[0] as Record<string, unknown>;
        valid = kind.grouped ? String(Object.values(v)[0]) : kind.encode(v);
      }
      prefixes.push({ prefix: sectionPrefix(name, kind), valid, kind });
    }
    prefixes.push({ prefix: `/${name}/nodes/` }, { prefix: `/${name}/other/` }, { prefix: `/${name}/` }, { prefix: `/${name}X/rules/` });
    for (const p of prefixes) {
      const grouped = p.kind?.grouped ?? false;
      const key = `${p.prefix}hand${grouped ? `/${backend.addr}` : ".test"}`;
      // a valid value first: it must keep serving while invalid ones come
      if (p.valid !== undefined) await putRaw(etcd.endpoint, key, p.valid);
      for (const v of values(p.valid ?? "{}")) {
        const rev = await putRaw(etcd.endpoint, key, v);
        const caseName = `${key} = ${v.length} bytes: ${v.subarray(0, 60).toString("latin1")}`;
        const problems: { what: string; detail?: string; severity?: number }[] = [];
        let s: Status | undefined;
        try {
          s = await caughtUp(elb, rev, key);
        } catch (e) {
          problems.push({ what: "the node stopped following etcd", detail: String(e), severity: 9 });
        }
        const ref = parseKey(name, key);
        const invalid = ref !== undefined && checkStored(name, key, v.toString("utf8")).length > 0 || (ref !== undefined && !v.equals(Buffer.from(v.toString("utf8"))));
        if (s && ref) {
          const listed = s.invalid_keys[key];
          if (invalid && !listed) problems.push({ what: "an invalid value is not listed in status", detail: key, severity: 6 });
          if (!invalid && listed) problems.push({ what: "a valid value is listed as invalid", detail: listed.error, severity: 5 });
          if (p.valid !== undefined && ref.kind.id === "domain") {
            const r = await elb.request({ path: "/", headers: { Host: "hand.test" } });
            if (invalid && r.status === 404) problems.push({ what: "the last valid value stopped serving", detail: `${r.status} ${r.body.slice(0, 100)}`, severity: 8 });
          }
        }
        if (s && !ref && Object.keys(s.invalid_keys).some((k) => k === key)) problems.push({ what: "a key that is no configuration is listed", detail: key, severity: 4 });
        check(caseName, problems);
      }
      await deleteRaw(etcd.endpoint, key);
      // odd keys under the prefix, with a valid value
      for (const odd of oddNames(p.prefix, grouped)) {
        const rev = await putRaw(etcd.endpoint, odd, p.valid ?? "{}");
        const caseName = `odd key ${JSON.stringify(odd).slice(0, 120)}`;
        const problems: { what: string; detail?: string; severity?: number }[] = [];
        try {
          const s = await caughtUp(elb, rev, key);
          const ref = parseKey(name, odd);
          const invalid = ref !== undefined && checkStored(name, odd, p.valid ?? "{}").length > 0;
          if (ref && invalid && !s.invalid_keys[odd]) problems.push({ what: "an invalid key is not listed in status", detail: JSON.stringify(odd).slice(0, 200), severity: 6 });
          if (!ref && s.invalid_keys[odd]) problems.push({ what: "a key that is no configuration is listed", detail: odd, severity: 4 });
          await deleteRaw(etcd.endpoint, odd);
          const after = await caughtUp(elb, rev + 1, odd);
          if (after.invalid_keys[odd]) problems.push({ what: "a deleted key stays listed as invalid", detail: JSON.stringify(odd).slice(0, 200), severity: 5 });
        } catch (e) {
          problems.push({ what: "the node stopped following etcd", detail: String(e), severity: 9 });
        }
        check(caseName, problems);
      }
    }
    // a prefix deleted whole, with every kind in it
    const rev = await deleteRaw(etcd.endpoint, `/${name}/`, true);
    const s = await caughtUp(elb, rev);
    check("every key under the prefix deleted at once", Object.keys(s.invalid_keys).length > 0 ? [{ what: "deleted keys stay listed as invalid", detail: Object.keys(s.invalid_keys).join(", ").slice(0, 300) }] : []);
    t.notes.push(`prefixes: ${prefixes.map((p) => p.prefix).join(", ")}; per prefix ${values("{}").length} values (binary, 1 MiB, NaN, nesting 100,000 deep, ...) and ${oddNames("/x/", false).length} odd keys`);
  } finally {
    await stopAll();
  }
  return t;
}
