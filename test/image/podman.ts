// Podman for the image test: a store of its own (vfs storage, runc, cgroupfs, file logs) so
// nothing touches the machine's default containers storage, a runner for its commands, and the
// bookkeeping that removes every container, volume and image the run made.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run as runToEnd } from "../e2e/harness";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** A non-zero exit is returned instead of thrown. */
  allowFail?: boolean;
}

/** Runs a command to its end, timed; rejects on a non-zero exit (unless allowFail) or a timeout. */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const r = await runToEnd(cmd, args, { env: opts.env, timeoutMs });
  const ms = Date.now() - started;
  if (r.code === null) throw new Error(`${cmd} ${args.join(" ")}: ${ms >= timeoutMs ? `no end after ${timeoutMs / 1000} s` : `killed by ${r.signal}`}`);
  if (r.code !== 0 && !opts.allowFail) {
    const tail = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-20).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}:\n${tail}`);
  }
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, ms };
}

function hardLimit(flag: "-Hn" | "-Hu"): number {
  // through bash (dash has no -u): Node has no getrlimit
  const out = spawnSync("bash", ["-c", `ulimit ${flag}`], { encoding: "utf8" }).stdout.trim();
  if (out === "unlimited") return Number.MAX_SAFE_INTEGER;
  if (!/^[1-9][0-9]*$/.test(out)) throw new Error(`ulimit ${flag}: ${JSON.stringify(out)}`);
  return Number(out);
}

export interface Store {
  dir: string;
  /** True: a store named by ELB_IMAGE_STORE, kept (with its base images) for the next run. */
  kept: boolean;
  env: NodeJS.ProcessEnv;
}

/**
 * The store and the configuration every podman command of the run uses (CONTAINERS_CONF and
 * friends replace the machine's files, so the settings are these whatever the machine has).
 */
export function makeStore(keptDir?: string): Store {
  const dir = keptDir ?? mkdtempSync(join(tmpdir(), "elb-image-"));
  mkdirSync(join(dir, "conf"), { recursive: true });
  // Root here lacks CAP_SYS_RESOURCE: podman's default container limits (nofile 1048576, and
  // an nproc above the 32768 podman lowers itself to) cannot be set. Ask for what we have.
  const nofile = hardLimit("-Hn");
  const nproc = Math.min(hardLimit("-Hu"), 32768);
  writeFileSync(
    join(dir, "conf/containers.conf"),
    [
      "[containers]",
      // no journald here
      'log_driver = "k8s-file"',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      "[engine]",
      // crun 1.8 (bookworm) refuses hybrid cgroup hierarchies; runc takes them
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "conf/storage.conf"),
    ["[storage]", 'driver = "vfs"', `graphroot = "${dir}/graph"`, `runroot = "${dir}/run"`, ""].join("\n"),
  );
  // FROM debian:bookworm-slim means docker.io/library/debian:bookworm-slim, as for Docker;
  // every build and run says --pull=never, so no registry is ever asked.
  writeFileSync(join(dir, "conf/registries.conf"), 'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n');
  return {
    dir,
    kept: keptDir !== undefined,
    env: {
      ...process.env,
      CONTAINERS_CONF: join(dir, "conf/containers.conf"),
      CONTAINERS_STORAGE_CONF: join(dir, "conf/storage.conf"),
      CONTAINERS_REGISTRIES_CONF: join(dir, "conf/registries.conf"),
    },
  };
}

export function podman(store: Store, args: string[], opts: Omit<RunOptions, "env"> = {}): Promise<RunResult> {
  return run("podman", args, { ...opts, env: store.env });
}

export async function imageIds(store: Store): Promise<Set<string>> {
  const r = await podman(store, ["images", "--all", "--quiet", "--no-trunc"]);
  return new Set(r.stdout.split("\n").filter(Boolean).map((id) => id.replace(/^sha256:/, "")));
}

/** What the run made, removed by cleanup() in reverse: containers, then volumes, then images. */
export class Made {
  containers: string[] = [];
  volumes: string[] = [];
  /** Images in the store before the run; every other one (but kept bases) is removed. */
  imagesBefore = new Set<string>();
  keepImages = new Set<string>();

  constructor(readonly store: Store) {}

  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (what: string, args: string[]) => {
      const r = await podman(this.store, args, { allowFail: true, timeoutMs: 60_000 }).catch((e: Error) => ({ code: -1, stderr: e.message, stdout: "" }));
      if (r.code !== 0 && !/no such|not found|no container|no volume/i.test(r.stderr)) problems.push(`${what}: ${r.stderr.trim()}`);
    };
    for (const c of [...this.containers].reverse()) await attempt(`container ${c}`, ["rm", "--force", "--time", "2", c]);
    // a build cut short leaves its working containers (podman ps --external); the store is the test's own
    const working = await podman(this.store, ["ps", "--all", "--external", "--quiet"], { allowFail: true });
    const ids = working.stdout.split("\n").filter(Boolean);
    if (ids.length) await attempt("working containers", ["rm", "--force", ...ids]);
    for (const v of this.volumes) await attempt(`volume ${v}`, ["volume", "rm", "--force", v]);
    // newest first: an image made from another goes before it
    const images = await imageIds(this.store).catch(() => new Set<string>());
    const remove = [...images].filter((id) => !this.imagesBefore.has(id) && !this.keepImages.has(id));
    if (remove.length) await attempt("images", ["rmi", "--force", ...remove]);
    return problems;
  }

  /** What is wrong after cleanup(): this run's containers, volumes or images left, kept images gone. */
  async afterCleanup(): Promise<string[]> {
    const left: string[] = [];
    const ps = await podman(this.store, ["ps", "--all", "--format", "{{.Names}}"]);
    for (const n of ps.stdout.split("\n")) if (this.containers.includes(n)) left.push(`container ${n} left`);
    const vols = await podman(this.store, ["volume", "ls", "--format", "{{.Name}}"]);
    for (const n of vols.stdout.split("\n")) if (this.volumes.includes(n)) left.push(`volume ${n} left`);
    const ids = await imageIds(this.store);
    for (const id of ids) if (!this.imagesBefore.has(id) && !this.keepImages.has(id)) left.push(`image ${id.slice(0, 12)} left`);
    for (const id of this.keepImages) if (!ids.has(id)) left.push(`image ${id.slice(0, 12)}, to be kept, is gone`);
    return left;
  }
}

/** Removes a throwaway store: nothing may still be mounted under it. */
export function removeStore(store: Store): string | undefined {
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1])
    .filter((m) => m && m.startsWith(store.dir + "/"));
  if (mounts.length) return `still mounted under ${store.dir}: ${mounts.join(", ")}`;
  rmSync(store.dir, { recursive: true, force: true });
  return undefined;
}
