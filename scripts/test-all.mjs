// `npm test`: runs every test layer, in order, always all of them, and ends with exactly one
// line "N passed, N failed" (nothing is printed after it). Exit status 1 when anything failed.
//
//   1. vitest unit    test/**/*.test.ts (not test/e2e), admin-cli/**/*.test.ts
//   2. busted         spec/unit under LuaJIT, against build/lua (TAP output, counted)
//   3. nginx specs    scripts/run-nginx-specs.mjs (busted inside nginx)
//   4. vitest e2e     test/e2e/**/*.test.ts, one file at a time
//
// A layer that crashes or hangs (ELB_TEST_LAYER_TIMEOUT seconds, default 1800) counts as at
// least one failure. Skipped tests are counted and printed as "skipped: N" before the last line.
// A failed build (build/BUILD_FAILED, written by scripts/setup.sh test) counts as one failure.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(new URL("..", import.meta.url).pathname);
const layerTimeout = Number(process.env.ELB_TEST_LAYER_TIMEOUT || 1800) * 1000;
const work = mkdtempSync(join(tmpdir(), "elb-test-all-"));
const vitestBin = join(root, "node_modules/vitest/vitest.mjs");

let current; // the running child, for Ctrl-C
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    interrupted = true;
    if (current?.pid) {
      try {
        process.kill(-current.pid, sig); // the layer leads its own process group
      } catch {
        /* gone */
      }
    }
  });
}

/**
 * Runs a command in its own process group, streaming its output; resolves with the exit code
 * and the captured stdout (when capture is set).
 */
function run(cmd, args, { capture = false, env = {} } = {}) {
  return new Promise((res) => {
    const child = spawn(cmd, args, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"],
      detached: true,
    });
    current = child;
    let out = "";
    if (capture) {
      child.stdout.on("data", (b) => {
        process.stdout.write(b);
        out += b;
      });
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.log(`\ntest-all: ${cmd} ${args.join(" ")} ran for more than ${layerTimeout / 1000} s: killed`);
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }, layerTimeout);
    child.on("error", (e) => {
      clearTimeout(timer);
      current = undefined;
      res({ code: -1, out, error: e.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      res({ code: code ?? (signal ? 128 : -1), out, timedOut, signal });
    });
  });
}

function banner(title) {
  console.log(`\n===== ${title} =====\n`);
}

/** Counts from a vitest JSON report; failures outside tests (a file that does not load, a hook) count too. */
function vitestCounts(file, code) {
  const r = { passed: 0, failed: 0, skipped: 0, note: "" };
  let report;
  try {
    report = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    r.failed = 1;
    r.note = "no report: vitest crashed";
    return r;
  }
  r.passed = report.numPassedTests ?? 0;
  r.failed = report.numFailedTests ?? 0;
  r.skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  for (const f of report.testResults ?? []) {
    const failedHere = (f.assertionResults ?? []).filter((a) => a.status === "failed").length;
    if (f.status === "failed" && failedHere === 0) {
      r.failed += 1;
      const where = f.name ? f.name.replace(root + "/", "") : "a test file";
      r.note += `${r.note ? "; " : ""}${where} failed outside its tests`;
    }
  }
  if (code !== 0 && r.failed === 0) {
    r.failed = 1;
    r.note = `vitest exited ${code} without a failed test (unhandled error?)`;
  }
  return r;
}

async function vitestLayer(project) {
  const report = join(work, `${project}.json`);
  const res = await run(process.execPath, [
    vitestBin,
    "run",
    "--project",
    project,
    "--passWithNoTests",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...(project === "e2e" ? ["--no-file-parallelism"] : []),
  ], { env: process.stdout.isTTY ? { FORCE_COLOR: "1" } : { NO_COLOR: "1" } });
  return vitestCounts(report, res.code);
}

async function bustedLayer() {
  const r = { passed: 0, failed: 0, skipped: 0, note: "" };
  if (!existsSync(join(root, "spec/unit"))) {
    r.note = "spec/unit does not exist: nothing to run";
    console.log(`test-all: ${r.note}`);
    return r;
  }
  // .busted (repo root) sets lua = "luajit", lpath and ROOT; without it, say it all here.
  const args = existsSync(join(root, ".busted"))
    ? ["/usr/bin/busted", "-o", "TAP", "spec/unit"]
    : ["/usr/bin/busted", "-o", "TAP", "--lpath=build/lua/?.lua;spec/?.lua;/usr/share/lua/5.1/?.lua", "spec/unit"];
  const res = await run("luajit", args, { capture: true });
  for (const line of res.out.split("\n")) {
    if (/^not ok \d+/.test(line)) r.failed++;
    else if (/^ok \d+ - # SKIP/.test(line)) r.skipped++;
    else if (/^ok \d+/.test(line)) r.passed++;
  }
  if (res.code !== 0 && r.failed === 0) {
    r.failed = 1;
    r.note = res.error ? `busted could not start: ${res.error}` : `busted exited ${res.code} without a failed test`;
  }
  return r;
}

async function nginxSpecsLayer() {
  const r = { passed: 0, failed: 0, skipped: 0, note: "" };
  const script = join(root, "scripts/run-nginx-specs.mjs");
  if (!existsSync(script)) {
    r.note = "scripts/run-nginx-specs.mjs does not exist yet: layer not run";
    console.log(`test-all: ${r.note}`);
    return r;
  }
  const res = await run(process.execPath, [script], { capture: true });
  const lines = res.out.split("\n");
  let found = false;
  for (const line of lines) {
    const m = /^nginx-specs: (\d+) passed, (\d+) failed/.exec(line);
    if (m) {
      found = true;
      r.passed = Number(m[1]);
      r.failed = Number(m[2]);
    }
    const p = /^# nginx-specs: (\d+) pending/.exec(line);
    if (p) r.skipped = Number(p[1]);
  }
  if (!found) r.note = "no result line";
  if (res.code !== 0 && r.failed === 0) {
    r.failed = 1;
    r.note = `run-nginx-specs exited ${res.code} without a failed spec`;
  }
  return r;
}

const layers = [
  ["vitest unit", () => vitestLayer("unit")],
  ["busted (LuaJIT)", bustedLayer],
  ["nginx specs", nginxSpecsLayer],
  ["vitest e2e", () => vitestLayer("e2e")],
];

const results = [];
const buildFailed = join(root, "build/BUILD_FAILED");
if (existsSync(buildFailed)) {
  console.log(`test-all: ${readFileSync(buildFailed, "utf8").trim()} (see the output above): counted as 1 failure`);
  results.push(["build", { passed: 0, failed: 1, skipped: 0, note: "npm run build failed" }]);
}
for (const [name, fn] of layers) {
  banner(name);
  let r;
  if (interrupted) r = { passed: 0, failed: 1, skipped: 0, note: "not run: interrupted" };
  else {
    try {
      r = await fn();
    } catch (e) {
      r = { passed: 0, failed: 1, skipped: 0, note: `crashed: ${e?.message ?? e}` };
    }
  }
  results.push([name, r]);
}
rmSync(work, { recursive: true, force: true });

let passed = 0;
let failed = 0;
let skipped = 0;
banner("summary");
for (const [name, r] of results) {
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  const counts = `${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ""}`;
  console.log(`${name.padEnd(16)} ${counts}${r.note ? `  (${r.note})` : ""}`);
}
console.log(`skipped: ${skipped}`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || interrupted ? 1 : 0;
