#!/usr/bin/env node
// elbctl: the operator's command line. The CLI is TypeScript (admin-cli/src) that imports the
// engine's own validation from src-lua/core, so a fresh clone needs nothing but `npm install`:
// the sources are bundled with esbuild (a dependency of tsx) into node_modules/.cache/elbctl/
// on the first run after they change, and when that is not possible tsx compiles them on the fly.
import { readdirSync, statSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const entry = join(root, "admin-cli/src/main.ts");

function fingerprint() {
  const h = createHash("sha256");
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) h.update(`${p}:${st.size}:${st.mtimeMs}\n`);
    }
  };
  walk(join(root, "admin-cli/src"));
  walk(join(root, "src-lua/core"));
  return h.digest("hex").substring(0, 16);
}

async function bundled() {
  if (process.env.ELBCTL_NO_BUNDLE) throw new Error("bundling off");
  const dir = join(root, "node_modules/.cache/elbctl");
  const out = join(dir, `elbctl-${fingerprint()}.mjs`);
  if (existsSync(out)) return out;
  const esbuild = await import("esbuild");
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  await esbuild.build({ entryPoints: [entry], outfile: tmp, bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", logLevel: "silent" });
  for (const old of readdirSync(dir)) if (old.startsWith("elbctl-") && old.endsWith(".mjs")) rmSync(join(dir, old), { force: true });
  renameSync(tmp, out);
  return out;
}

let mod;
try {
  mod = await import(pathToFileURL(await bundled()).href);
} catch {
  const { register } = await import("tsx/esm/api");
  register();
  mod = await import(pathToFileURL(entry).href);
}
process.exit(await mod.main(process.argv.slice(2)));
