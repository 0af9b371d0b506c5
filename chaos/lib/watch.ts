// Watching a node under test: new lines of its error log that show a Lua error or a crash,
// and its worker processes (a worker that died and was replaced).
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Elb } from "../../test/harness/index.mjs";

/** Lines that never belong in the log of a healthy node, whatever the input. */
const CRASH = [
  /\[(alert|crit|emerg)\]/,
  /lua entry thread aborted/,
  /runtime error/,
  /stack traceback/,
  /exited on signal/,
  /internal error while handling/,
  /admin \S+ \S+ failed:/,
  /attempt to (index|call|compare|perform|concatenate)/,
  /PANIC/,
];

export class LogWatch {
  private offset = 0;
  constructor(private readonly file: string) {
    this.offset = this.size();
  }

  static of(elb: Elb): LogWatch {
    return new LogWatch(join(elb.prefix, "logs", "error.log"));
  }

  private size(): number {
    try {
      return statSync(this.file).size;
    } catch {
      return 0;
    }
  }

  /** The log lines written since the last call. */
  fresh(): string[] {
    const end = this.size();
    if (end < this.offset) this.offset = 0; // rotated or truncated
    if (end === this.offset) return [];
    const fd = openSync(this.file, "r");
    try {
      const buf = Buffer.alloc(end - this.offset);
      readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = end;
      return buf.toString("latin1").split("\n").filter((l) => l !== "");
    } finally {
      closeSync(fd);
    }
  }

  /** New lines that show a crash or a Lua error; `alsoBad` adds patterns (e.g. any [error]). */
  crashes(alsoBad: RegExp[] = [], allowed: RegExp[] = []): string[] {
    return this.fresh().filter((l) => (CRASH.some((re) => re.test(l)) || alsoBad.some((re) => re.test(l))) && !allowed.some((re) => re.test(l)));
  }
}

/** The node's workers now; a change between two calls means a worker died. */
export function workerSet(elb: Elb): string {
  return elb.workers().slice().sort((a, b) => a - b).join(",");
}

/** Resident memory of a process in KiB (0 when it is gone). */
export function rssKiB(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+)/.exec(s);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
