// Every process the benchmark starts goes through start(): it runs in its own process group
// (detached), its output is kept (the last 256 KB), and stopAll() stops it. stopAll() runs on
// normal exit, on an error, and on SIGINT/SIGTERM/SIGHUP; a synchronous SIGKILL of every
// group we started is the last resort when node exits anyway.
import { spawn } from "node:child_process";

const live = new Set();

function killGroup(proc, signal) {
  if (proc.child.pid === undefined) return;
  try {
    process.kill(-proc.child.pid, signal);
  } catch {
    try {
      proc.child.kill(signal);
    } catch {
      /* gone */
    }
  }
}

/**
 * Starts `cmd args` in its own process group. Returns
 * {name, pid, child, alive(), output(), exited: Promise<{code, signal}>, stopSignal}.
 */
export function start(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks = [];
  let size = 0;
  const keep = (b) => {
    chunks.push(b.toString());
    size += b.length;
    while (size > 256 * 1024 && chunks.length > 1) size -= chunks.shift().length;
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let alive = true;
  const proc = {
    name,
    child,
    pid: child.pid,
    stopSignal: opts.stopSignal ?? "SIGTERM",
    graceMs: opts.graceMs ?? 5000,
    reaped: false,
    alive: () => alive,
    output: () => chunks.join(""),
  };
  proc.exited = new Promise((res) => {
    child.on("error", (e) => {
      keep(Buffer.from(`spawn error: ${e.message}\n`));
      alive = false;
      res({ code: -1, signal: null });
    });
    child.on("exit", (code, signal) => {
      alive = false;
      res({ code, signal });
    });
  });
  live.add(proc);
  return proc;
}

/**
 * Stops a process: its stop signal, then SIGKILL to its whole group after graceMs; once it
 * exited, whatever is left of its group (nginx workers, an etcd under launch.sh) is killed.
 */
export async function stop(proc, signal = proc.stopSignal, graceMs = proc.graceMs) {
  if (proc.alive()) {
    try {
      proc.child.kill(signal);
    } catch {
      /* gone */
    }
    let timer;
    const late = new Promise((res) => (timer = setTimeout(() => res("late"), graceMs)));
    const r = await Promise.race([proc.exited, late]);
    clearTimeout(timer);
    if (r === "late") killGroup(proc, "SIGKILL");
  }
  await proc.exited;
  if (!proc.reaped) {
    proc.reaped = true;
    killGroup(proc, "SIGKILL");
  }
  live.delete(proc);
}

/** Stops everything still running, newest first. */
export async function stopAll() {
  const all = [...live].reverse();
  for (const p of all) {
    try {
      await stop(p);
    } catch {
      /* keep going */
    }
  }
}

export function liveCount() {
  return live.size;
}

let installed = false;
let cleanups = [];

/** Registers a function run (once) by shutdown(), after every process was stopped. */
export function onShutdown(fn) {
  cleanups.push(fn);
}

export async function shutdown() {
  await stopAll();
  const fns = cleanups;
  cleanups = [];
  for (const fn of fns.reverse()) {
    try {
      await fn();
    } catch {
      /* keep going */
    }
  }
}

/** Signals and exit: stop everything we started. Call once, early. */
export function installHandlers(log = console.error) {
  if (installed) return;
  installed = true;
  let stopping = false;
  const onSignal = (sig) => {
    if (stopping) {
      log(`bench: ${sig} again, killing everything`);
      for (const p of live) killGroup(p, "SIGKILL");
      process.exit(130);
    }
    stopping = true;
    log(`bench: ${sig}, stopping every process started`);
    shutdown().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGHUP", () => onSignal("SIGHUP"));
  process.on("exit", () => {
    for (const p of live) killGroup(p, "SIGKILL");
    for (const fn of cleanups) {
      try {
        const r = fn();
        if (r && typeof r.catch === "function") r.catch(() => {});
      } catch {
        /* exit anyway */
      }
    }
  });
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls fn until it returns something truthy; throws after timeoutMs. */
export async function waitFor(fn, timeoutMs, what, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e && e.abort) throw e;
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr.message}` : ""}`);
    }
    await sleep(intervalMs);
  }
}

/** An error that makes waitFor stop at once. */
export function abort(message) {
  const e = new Error(message);
  e.abort = true;
  return e;
}

/** Runs a command to completion with a time limit; resolves {code, stdout, stderr}. */
export function run(cmd, args, { timeoutMs = 60000, env, input } = {}) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env: env ?? process.env, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], detached: true });
    const proc = { name: cmd, child, pid: child.pid, alive: () => child.exitCode === null && child.signalCode === null, reaped: false };
    live.add(proc);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => killGroup(proc, "SIGKILL"), timeoutMs);
    proc.exited = new Promise((r) => child.on("close", (code, signal) => r({ code, signal })));
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
