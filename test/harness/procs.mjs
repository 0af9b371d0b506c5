// @ts-check
// Every process the harness starts goes through start() or run(): it leads its own process
// group (detached), its output is kept (the last MiB), and stop() ends the whole group. Handles
// (etcd, ELB, servers) register with track(); stopAll() stops them newest first, then every
// process still running, then runs the cleanups (temp dirs). Whatever is left when node exits
// is SIGKILLed, whole group; stopOnSignals() makes Ctrl-C stop everything first (the bench).
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** @typedef {{ code: number | null, signal: NodeJS.Signals | null }} Exit */

/**
 * @typedef {object} Proc
 * @property {string} name
 * @property {import("node:child_process").ChildProcess} child
 * @property {number | undefined} pid
 * @property {NodeJS.Signals} stopSignal what stop() sends first
 * @property {number} graceMs how long stop() waits before SIGKILL
 * @property {() => boolean} alive
 * @property {() => string} output stdout and stderr, the last MiB
 * @property {Promise<Exit>} exited
 * @property {boolean} [reaped] its group was swept after the exit (never twice: ids are reused)
 */

/**
 * @typedef {object} StartOptions
 * @property {NodeJS.ProcessEnv} [env]
 * @property {string} [cwd]
 * @property {number | string} [cpu] a CPU list: run under `taskset -c cpu`
 * @property {NodeJS.Signals} [stopSignal] default SIGTERM
 * @property {number} [graceMs] default 5000
 */

const OUTPUT_BYTES = 1 << 20;
/** @type {Set<Proc>} started and not reaped yet */
const live = new Set();
/** @type {Set<{ stop(): Promise<unknown> }>} */
const tracked = new Set();
/** @type {(() => void)[]} */
const cleanups = [];

/** @param {Proc} proc @param {NodeJS.Signals} signal */
export function killGroup(proc, signal) {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    try {
      proc.child.kill(signal);
    } catch {
      /* gone */
    }
  }
}

/**
 * Starts `cmd args` in its own process group.
 * @param {string} name @param {string} cmd @param {string[]} args @param {StartOptions} [opts]
 * @returns {Proc}
 */
export function start(name, cmd, args, opts = {}) {
  const [file, argv] = opts.cpu === undefined ? [cmd, args] : ["taskset", ["-c", String(opts.cpu), cmd, ...args]];
  const child = spawn(file, argv, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  /** @type {string[]} */
  const chunks = [];
  let size = 0;
  /** @param {Buffer | string} b */
  const keep = (b) => {
    chunks.push(b.toString());
    size += b.length;
    while (size > OUTPUT_BYTES && chunks.length > 1) size -= /** @type {string} */ (chunks.shift()).length;
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let alive = true;
  /** @type {Proc} */
  const proc = {
    name,
    child,
    pid: child.pid,
    stopSignal: opts.stopSignal ?? "SIGTERM",
    graceMs: opts.graceMs ?? 5000,
    alive: () => alive,
    output: () => chunks.join(""),
    exited: new Promise((res) => {
      child.on("error", (e) => {
        keep(`spawn error: ${e.message}\n`);
        alive = false;
        res({ code: -1, signal: null });
      });
      child.on("exit", (code, signal) => {
        alive = false;
        res({ code, signal });
      });
    }),
  };
  live.add(proc);
  return proc;
}

/**
 * Sends `signal`, waits up to graceMs, then SIGKILLs the whole group; once the process has
 * exited, whatever is left of its group (nginx workers, an etcd under launch.sh) is killed.
 * @param {Proc} proc @param {NodeJS.Signals} [signal] @param {number} [graceMs]
 * @returns {Promise<Exit>}
 */
export async function stop(proc, signal = proc.stopSignal, graceMs = proc.graceMs) {
  if (proc.alive()) {
    try {
      proc.child.kill(signal);
    } catch {
      /* gone */
    }
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    const late = new Promise((res) => (timer = setTimeout(() => res("late"), graceMs)));
    const r = await Promise.race([proc.exited, late]);
    clearTimeout(timer);
    if (r === "late") killGroup(proc, "SIGKILL");
  }
  const exit = await proc.exited;
  if (!proc.reaped) {
    proc.reaped = true;
    killGroup(proc, "SIGKILL");
  }
  live.delete(proc);
  return exit;
}

/**
 * Runs a command to completion with a time limit (then its group is killed).
 * @param {string} cmd @param {string[]} args
 * @param {{ timeoutMs?: number, env?: NodeJS.ProcessEnv, input?: string, cwd?: string }} [opts]
 * @returns {Promise<Exit & { stdout: string, stderr: string }>}
 */
export function run(cmd, args, { timeoutMs = 60000, env, input, cwd } = {}) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], detached: true });
    const exited = new Promise((r) => child.on("close", (code, signal) => r({ code, signal })));
    /** @type {Proc} */
    const proc = { name: cmd, child, pid: child.pid, stopSignal: "SIGKILL", graceMs: 0, alive: () => child.exitCode === null && child.signalCode === null, output: () => "", exited };
    live.add(proc);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (b) => (stdout += b));
    child.stderr?.on("data", (b) => (stderr += b));
    if (input !== undefined) child.stdin?.end(input);
    const timer = setTimeout(() => killGroup(proc, "SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      live.delete(proc);
      rej(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      res({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Registers a handle that stopAll() stops; returns it.
 * @template {{ stop(): Promise<unknown> }} H @param {H} handle @returns {H}
 */
export function track(handle) {
  tracked.add(handle);
  return handle;
}

/** @param {{ stop(): Promise<unknown> }} handle */
export function untrack(handle) {
  tracked.delete(handle);
}

/** Registers a function that stopAll() and the exit of node run (after the processes). @param {() => void} fn */
export function onCleanup(fn) {
  cleanups.push(fn);
}

/** Stops everything started (handles newest first, then processes); safe to call again. Throws the first error after all. */
export async function stopAll() {
  const errors = [];
  const handles = [...tracked].reverse();
  tracked.clear();
  for (const h of handles) await h.stop().catch((e) => errors.push(e));
  for (const p of [...live].reverse()) await stop(p).catch((e) => errors.push(e));
  for (const fn of cleanups) {
    try {
      fn();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length) throw errors[0];
}

process.on("exit", () => {
  for (const p of live) killGroup(p, "SIGKILL");
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      /* exit anyway */
    }
  }
});

let handlingSignals = false;
/** SIGINT, SIGTERM, SIGHUP: stopAll(), then exit; a second signal kills everything at once. @param {(msg: string) => void} [log] */
export function stopOnSignals(log = console.error) {
  if (handlingSignals) return;
  handlingSignals = true;
  let stopping = false;
  /** @param {NodeJS.Signals} sig */
  const onSignal = (sig) => {
    if (stopping) {
      log(`${sig} again, killing everything`);
      for (const p of live) killGroup(p, "SIGKILL");
      process.exit(130);
    }
    stopping = true;
    log(`${sig}, stopping every process started`);
    stopAll()
      .catch(() => {})
      .finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  for (const sig of /** @type {NodeJS.Signals[]} */ (["SIGINT", "SIGTERM", "SIGHUP"])) process.on(sig, () => onSignal(sig));
}

/** True when `cmd` is on PATH (to skip suites loudly when a tool is missing). @param {string} cmd */
export function haveCommand(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** The pids whose parent is `pid` (any of its threads), ascending. @param {number} pid @returns {number[]} */
export function childrenOf(pid) {
  const out = [];
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch {
      /* the thread ended */
    }
  }
  return out.sort((a, b) => a - b);
}

/** The command name of a pid (from /proc/<pid>/comm), or "". @param {number} pid */
export function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}
