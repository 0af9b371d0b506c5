// @ts-check
// Temp dirs: one root per process (elb-<label>-XXXXXX in the system's temp dir) and a dir per
// use below it. stopAll() and the exit of node remove the root, unless ELB_KEEP_TMP=1 (or the
// bench's ELB_BENCH_KEEP=1) asks to keep the configs and logs for a look afterwards.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onCleanup } from "./procs.mjs";

const keep = process.env.ELB_KEEP_TMP === "1" || process.env.ELB_BENCH_KEEP === "1";
let label = "e2e";
/** @type {string | undefined} */
let root;

/** Names the roots made from now on: elb-<label>-XXXXXX (the bench says "bench"). @param {string} name */
export function tmpLabel(name) {
  label = name;
}

/** The root of this process's temp dirs (made on first use). */
export function tmpRoot() {
  if (!root) {
    root = mkdtempSync(join(tmpdir(), `elb-${label}-`));
    // nginx workers may run as www-data when the harness runs as root: let them in.
    chmodSync(root, 0o755);
  }
  return root;
}

/** A new dir `<tag>-XXXXXX` under tmpRoot(). @param {string} tag */
export function tmpDir(tag) {
  const dir = mkdtempSync(join(tmpRoot(), `${tag}-`));
  chmodSync(dir, 0o755);
  return dir;
}

onCleanup(() => {
  if (root && !keep) rmSync(root, { recursive: true, force: true });
  root = undefined;
});
