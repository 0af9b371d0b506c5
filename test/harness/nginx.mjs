// @ts-check
// A running nginx, found from its prefix: its logs, and its processes from nginx.pid, the
// master and its workers (to measure them, signal them, or kill a node outright).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { childrenOf, commOf } from "./procs.mjs";

/** <prefix>/logs/<name>.log, "" when there is none. @param {string} prefix @param {string} [name] */
export function logOf(prefix, name = "error") {
  try {
    return readFileSync(join(prefix, "logs", `${name}.log`), "utf8");
  } catch {
    return "";
  }
}

/** The master's pid from <prefix>/nginx.pid; 0 when there is none. @param {string} prefix */
export function masterPid(prefix) {
  try {
    return Number(readFileSync(join(prefix, "nginx.pid"), "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}

/** The worker processes of the nginx master `master`. @param {number} master */
export function nginxWorkers(master) {
  return master ? childrenOf(master).filter((p) => commOf(p) === "nginx") : [];
}

/** The pids of the nginx running in `prefix`: [master, ...workers]. @param {string} prefix */
export function nginxPids(prefix) {
  const master = masterPid(prefix);
  if (!master) throw new Error(`no nginx.pid in ${prefix}`);
  return [master, ...childrenOf(master)];
}

/** SIGKILLs the nginx of `prefix`, master and workers: the node dies without a word. @param {string} prefix */
export function killNginx(prefix) {
  for (const pid of nginxPids(prefix)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}
