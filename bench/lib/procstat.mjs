// Per-process CPU time and memory from /proc, and the machine's load.
import { readFileSync, readdirSync } from "node:fs";
import { cpus, loadavg } from "node:os";

// CLK_TCK is 100 on every Linux this runs on (getconf CLK_TCK); checked in machineInfo().
export const CLK_TCK = 100;

/** Fields of /proc/<pid>/stat after the command name (field 3 = index 0). */
function statFields(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  return s.slice(s.lastIndexOf(")") + 2).split(" ");
}

/** {user, system} CPU seconds of one process; undefined when it is gone. */
export function cpuOf(pid) {
  try {
    const f = statFields(pid);
    return { user: Number(f[11]) / CLK_TCK, system: Number(f[12]) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** Sum of cpuOf over pids (those that are gone count 0). */
export function cpuOfAll(pids) {
  const t = { user: 0, system: 0 };
  for (const pid of pids) {
    const c = cpuOf(pid);
    if (c) {
      t.user += c.user;
      t.system += c.system;
    }
  }
  return t;
}

export function cpuDelta(a, b) {
  const user = b.user - a.user;
  const system = b.system - a.system;
  return { user, system, total: user + system };
}

/** Every live pid with its parent. */
export function processTable() {
  const out = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const f = statFields(name);
      out.set(Number(name), { ppid: Number(f[1]), user: Number(f[11]) / CLK_TCK, system: Number(f[12]) / CLK_TCK, cuser: Number(f[13]) / CLK_TCK, csystem: Number(f[14]) / CLK_TCK });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** {rss, pss, pssAnon, privateDirty} in KiB from /proc/<pid>/smaps_rollup. */
export function memOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const get = (k) => {
      const m = text.match(new RegExp(`^${k}:\\s+(\\d+) kB`, "m"));
      return m ? Number(m[1]) : undefined;
    };
    return { rss: get("Rss"), pss: get("Pss"), pssAnon: get("Pss_Anon"), privateDirty: get("Private_Dirty") };
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine, from /proc/stat. */
export function machineCpu() {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] || 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/**
 * CPU seconds used by this node process and everything it started (live descendants, and
 * the children it and they reaped). Compared with machineCpu() it tells how much CPU other
 * processes on the machine took during a measurement.
 */
export function ourCpu() {
  return cpuTree(process.pid);
}

/** Starts watching the machine: stop() returns how busy it was and how much was not ours. */
export function watchMachine() {
  const m0 = machineCpu();
  const o0 = ourCpu();
  const t0 = Date.now();
  return {
    stop() {
      const m1 = machineCpu();
      const o1 = ourCpu();
      const wall = (Date.now() - t0) / 1000;
      const busy = m1.busy - m0.busy;
      const ours = o1 - o0;
      return {
        wall_s: round(wall, 1),
        busy_cores: round(busy / wall, 2),
        other_cores: round(Math.max(0, busy - ours) / wall, 2),
        loadavg: loadavg().map((x) => round(x, 2)),
      };
    },
  };
}

export function round(x, digits = 3) {
  if (x === undefined || x === null || !Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function cpuModel() {
  return cpus()[0]?.model ?? "unknown";
}

/**
 * CPU seconds of a process and everything under it: its own time, the time of the children it
 * reaped (cutime, cstime: nginx workers that exited after a reload), and its live descendants.
 */
export function cpuTree(root) {
  const table = processTable();
  const kids = new Map();
  for (const [pid, p] of table) {
    if (!kids.has(p.ppid)) kids.set(p.ppid, []);
    kids.get(p.ppid).push(pid);
  }
  let sum = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop();
    const p = table.get(pid);
    if (p) sum += p.user + p.system + p.cuser + p.csystem;
    for (const k of kids.get(pid) ?? []) stack.push(k);
  }
  return sum;
}
