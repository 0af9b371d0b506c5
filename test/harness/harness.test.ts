// The shared harness's process handling, temp dirs and statsd counting, which the e2e suites
// (test/e2e/harness.test.ts covers etcd, ELB and the backends) and the bench rely on.
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { childrenOf, run, sendUdp, start, startStatsd, stop, stopAll, tmpDir, track, waitFor } from "./index.mjs";

/** Not running: gone, or a zombie that its new parent has not reaped yet. */
const gone = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].startsWith("Z");
  } catch {
    return true;
  }
};

describe("processes", () => {
  it("stop() ends the whole process group, also what the leader left behind", async () => {
    const p = start("sh", "sh", ["-c", "sleep 60 & echo $!; echo started >&2; wait"]);
    const orphan = Number(await waitFor(() => p.output().match(/^(\d+)$/m)?.[1], 5000, "the background pid"));
    await waitFor(() => p.output().includes("started"), 5000, "stderr to be kept");
    expect(childrenOf(p.pid!)).toContain(orphan);
    const exit = await stop(p);
    expect(exit.signal).toBe("SIGTERM");
    expect(p.alive()).toBe(false);
    await waitFor(() => gone(orphan), 2000, "the orphaned sleep to be killed");
  });

  it("falls back to SIGKILL after the grace period, and pins to a CPU with taskset", async () => {
    const p = start("stubborn", "sh", ["-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"], { cpu: 0, graceMs: 300 });
    await waitFor(() => p.output().includes("ready"), 5000, "the trap");
    expect(readFileSync(`/proc/${p.pid}/status`, "utf8")).toMatch(/^Cpus_allowed_list:\s+0$/m);
    const t0 = Date.now();
    expect((await stop(p)).signal).toBe("SIGKILL");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it("run() returns the exit code and output, and kills a command that runs too long", async () => {
    const ok = await run("sh", ["-c", "cat; echo err >&2; exit 3"], { input: "in\n" });
    expect(ok).toMatchObject({ code: 3, stdout: "in\n", stderr: "err\n" });
    const slow = await run("sleep", ["30"], { timeoutMs: 200 });
    expect(slow.signal).toBe("SIGKILL");
  });

  it("stopAll() stops tracked handles newest first, then processes, then removes the temp dirs", async () => {
    const order: string[] = [];
    track({ stop: async () => void order.push("first") });
    track({ stop: async () => void order.push("second") });
    const p = start("sleep", "sleep", ["60"]);
    const dir = tmpDir("probe");
    expect(existsSync(dir)).toBe(true);
    await stopAll();
    expect(order).toEqual(["second", "first"]);
    expect(p.alive()).toBe(false);
    expect(existsSync(dir)).toBe(process.env.ELB_KEEP_TMP === "1" || process.env.ELB_BENCH_KEEP === "1");
  });
});

describe("statsd", () => {
  it("counts datagrams, non-empty lines and bytes, also when it keeps nothing", async () => {
    const kept = await startStatsd();
    const counted = await startStatsd({ keep: false });
    for (const s of [kept, counted]) {
      await sendUdp(s.port, "a:1|c\nb:2|ms\n");
      await sendUdp(s.port, "c:3|c");
    }
    await kept.waitFor((lines) => lines.length === 3);
    await waitFor(() => counted.snapshot().datagrams === 2, 2000, "both datagrams");
    expect(counted.snapshot()).toEqual({ datagrams: 2, lines: 3, bytes: 18 });
    expect(kept.snapshot()).toEqual(counted.snapshot());
    expect(counted.lines).toEqual([]);
    await stopAll();
  });
});
