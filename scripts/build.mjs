// Compiles src-lua/ to build/lua/ with typescript-to-lua, then checks that the hot path
// (the access, balancer, log and ssl_certificate phases, the ACME challenge answer, and
// everything they require) is plain Lua:
// none of those modules may pull in lualib_bundle.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const out = join(root, "build/lua");
// core.balancer.algorithms: the algorithms, whose pick() runs per request
const hotPath = ["phases.access", "phases.balancer", "phases.header_filter", "phases.log", "phases.ssl_certificate", "phases.acme_challenge", "core.balancer.algorithms"];

// Compile next to the old build and swap it in at the end, so that a running nginx or a
// concurrent test never finds build/lua missing.
const fresh = `${out}.new-${process.pid}`;
rmSync(fresh, { recursive: true, force: true });
const tstl = spawnSync(process.execPath, [join(root, "node_modules/typescript-to-lua/dist/tstl.js"), "-p", join(root, "tstl.json"), "--outDir", fresh], { stdio: "inherit" });
if (tstl.status !== 0) {
  rmSync(fresh, { recursive: true, force: true });
  console.error("build: typescript-to-lua failed");
  process.exit(1);
}
const old = `${out}.old-${process.pid}`;
if (existsSync(out)) renameSync(out, old);
renameSync(fresh, out);
rmSync(old, { recursive: true, force: true });

function fileOf(mod) {
  return join(out, mod.replace(/\./g, "/") + ".lua");
}

const seen = new Map();
const problems = [];
function visit(mod, chain) {
  if (seen.has(mod)) return;
  const file = fileOf(mod);
  if (!existsSync(file)) {
    seen.set(mod, false);
    return; // a module from the host (ngx.*, cjson, ffi, ...)
  }
  seen.set(mod, true);
  const src = readFileSync(file, "utf8");
  const path = [...chain, mod];
  for (const m of src.matchAll(/require\("([^"]+)"\)/g)) {
    if (m[1] === "lualib_bundle") problems.push(path.join(" -> ") + " requires lualib_bundle");
    else visit(m[1], path);
  }
}
for (const mod of hotPath) {
  if (!existsSync(fileOf(mod))) problems.push(`${mod} is missing from the build`);
  else visit(mod, []);
}
if (problems.length) {
  console.error("build: the hot path must compile to plain Lua:\n  " + problems.join("\n  "));
  process.exit(1);
}
console.log(`build: ok (${[...seen.values()].filter(Boolean).length} hot-path modules are plain Lua)`);
