// `npm run chaos`: the reliability suite. Runs every category of chaos/categories/ in order
// against real etcd, nginx and backends on 127.0.0.1, and writes docs/RELIABILITY.md with
// docs/reliability/<category>.json beside it. Never part of `npm test`.
//
//   npm run chaos                          every category, full counts (under 15 minutes)
//   npm run chaos -- --quick               small counts, to try a change (docs not written)
//   npm run chaos -- --only fuzz,durability   these categories; their results replace the same
//                                          ones in docs/reliability/, the rest is kept
//   npm run chaos -- --seed N              the fuzzer's seed (default: the date's, printed)
//   npm run chaos -- --lua DIR             run another build of the engine (ELB_LUA_DIR)
//   npm run chaos -- --out DIR             write the report to DIR instead of docs/
import { execSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, hostname, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { REPO_ROOT, stopAll, stopOnSignals } from "../test/harness/index.mjs";
import { CategoryResult, Tally } from "./lib/tally";
import { render } from "./lib/report";

export interface Options {
  quick: boolean;
  seed: number;
  /** environment every ELB started gets (ELB_LUA_DIR with --lua) */
  env: Record<string, string>;
  log: (msg: string) => void;
}

type Category = { id: string; run: (o: Options) => Promise<Tally> };

const CATEGORIES: Category[] = [
  { id: "fuzz", run: async (o) => (await import("./categories/fuzz")).run(o) },
  { id: "by-hand", run: async (o) => (await import("./categories/by-hand")).run(o) },
  { id: "request", run: async (o) => (await import("./categories/request")).run(o) },
  { id: "faults", run: async (o) => (await import("./categories/faults")).run(o) },
  { id: "growth", run: async (o) => (await import("./categories/growth")).run(o) },
  { id: "concurrency", run: async (o) => (await import("./categories/concurrency")).run(o) },
  { id: "durability", run: async (o) => (await import("./categories/durability")).run(o) },
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  stopOnSignals();
  const quick = process.argv.includes("--quick");
  const only = arg("only")?.split(",");
  const seed = Number(arg("seed") ?? Number(new Date().toISOString().slice(0, 10).replace(/-/g, "")));
  const lua = arg("lua");
  const outDir = resolve(arg("out") ?? join(REPO_ROOT, "docs"));
  const env: Record<string, string> = lua ? { ELB_LUA_DIR: resolve(lua) } : {};
  const log = (msg: string) => console.log(`chaos: ${msg}`);
  const opts: Options = { quick, seed, env, log };
  const unknown = (only ?? []).filter((id) => !CATEGORIES.some((c) => c.id === id));
  if (unknown.length) throw new Error(`unknown categories: ${unknown.join(", ")} (known: ${CATEGORIES.map((c) => c.id).join(", ")})`);
  log(`seed ${seed}${quick ? ", quick" : ""}${lua ? `, engine from ${lua}` : ""}`);
  const started = Date.now();
  const results: CategoryResult[] = [];
  for (const c of CATEGORIES) {
    if (only && !only.includes(c.id)) continue;
    log(`${c.id} ...`);
    let r: CategoryResult;
    try {
      r = (await c.run(opts)).result();
    } catch (e) {
      await stopAll().catch(() => {});
      const t = new Tally(c.id, c.id);
      t.misbehave("the category itself", "the category failed to run", e instanceof Error ? e.stack : String(e), 10);
      r = t.result();
    }
    results.push(r);
    log(`${c.id}: ${r.tried} tried, ${r.misbehaved} misbehaved (${r.seconds}s)${r.worst ? `; worst: ${r.worst.what}: ${r.worst.case.slice(0, 200)} ${r.worst.detail ?? ""}` : ""}`);
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  if (quick && !arg("out")) {
    log(`quick run: docs not written (${seconds}s)`);
  } else {
    const dir = join(outDir, "reliability");
    mkdirSync(dir, { recursive: true });
    for (const r of results) writeFileSync(join(dir, `${r.id}.json`), `${JSON.stringify(r, null, 2)}\n`);
    const all = CATEGORIES.map((c) => join(dir, `${c.id}.json`)).filter(existsSync).map((f) => JSON.parse(readFileSync(f, "utf8")) as CategoryResult);
    const commit = execSync("git rev-parse --short HEAD", { cwd: REPO_ROOT }).toString().trim();
    const dirty = execSync("git status --porcelain -- src-lua nginx chaos", { cwd: REPO_ROOT }).toString().trim() !== "";
    const machine = `${hostname()}: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
    const args = process.argv.slice(2).join(" ");
    const run = { date: new Date().toISOString(), commit: `${commit}${dirty ? " (with uncommitted changes)" : ""}`, machine, command: args ? `npm run chaos -- ${args}` : "npm run chaos", seed, seconds, quick };
    writeFileSync(join(dir, "run.json"), `${JSON.stringify(run, null, 2)}\n`);
    const findings = join(REPO_ROOT, "chaos/FINDINGS.md");
    writeFileSync(join(outDir, "RELIABILITY.md"), render(run, all, existsSync(findings) ? readFileSync(findings, "utf8") : ""));
    log(`wrote ${join(outDir, "RELIABILITY.md")} (${seconds}s)`);
  }
  const bad = results.reduce((n, r) => n + r.misbehaved, 0);
  log(`${results.reduce((n, r) => n + r.tried, 0)} cases tried, ${bad} misbehaved, ${seconds}s`);
  return bad > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (e) => {
    console.error(e);
    await stopAll().catch(() => {});
    process.exit(2);
  },
);
