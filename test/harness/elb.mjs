// @ts-check
// ELB through nginx/launch.sh, exactly as `npm start` runs it, on a port picked at run time,
// with an external etcd or launch.sh's embedded one; and the wait until a node has loaded its
// configuration on every worker.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { request, waitAnswering } from "./http.mjs";
import { logOf, masterPid, nginxWorkers } from "./nginx.mjs";
import { HOST, freePort, freePortPair } from "./ports.mjs";
import { start, stop, track, untrack } from "./procs.mjs";
import { tmpDir } from "./tmp.mjs";
import { WaitAbort, waitFor } from "./wait.mjs";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const LAUNCH_SH = join(REPO_ROOT, "nginx/launch.sh");

/** True when the compiled Lua exists (npm run build ran). */
export function haveBuild() {
  return existsSync(join(REPO_ROOT, "build/lua/phases/init.lua"));
}

/**
 * @typedef {object} ElbOptions
 * @property {string} [etcd] "host:port" of an etcd (ETCD); omitted: launch.sh starts its embedded etcd
 * @property {string} [elbName] default ELB
 * @property {string} [statsd] "host:port" of a statsd listener (STATSD)
 * @property {number} [workers] worker_processes, default 2
 * @property {Record<string, string>} [env] more environment for launch.sh (ELB_ADMIN_TOKEN, ELB_LUA_DIR, ...)
 * @property {string} [prefix] reuse a runtime dir (a previous ELB's); default a new temp dir
 * @property {number} [port] listening port; default a free one
 * @property {number} [timeoutMs] how long to wait for the ELB to answer, default 20 s
 * @property {number | string} [cpu] pin launch.sh and what it starts to this CPU list
 * @property {boolean} [keepalive] requests through the handle reuse connections
 * @property {boolean} [tls] an HTTPS listener on a port picked now (ELB_TLS_LISTEN); default none
 * @property {number} [tlsPort] its port, when it must be this one
 */

/**
 * @typedef {object} Elb
 * @property {string} name
 * @property {number} port
 * @property {string} url "http://127.0.0.1:port"
 * @property {number} tlsPort the HTTPS listener's port (0: none)
 * @property {string} prefix its runtime dir (nginx.conf, logs, nginx.pid)
 * @property {string} etcd the embedded etcd's "127.0.0.1:port" when opts.etcd was omitted, else opts.etcd
 * @property {string} elbName
 * @property {import("./procs.mjs").Proc} proc launch.sh
 * @property {number} startedAt Date.now() when launch.sh was (last) started
 * @property {(signal?: NodeJS.Signals) => Promise<import("./procs.mjs").Exit>} stop stops launch.sh and everything it started; SIGINT (default): fast, SIGTERM: graceful
 * @property {(signal?: NodeJS.Signals) => void} kill sends a signal to launch.sh only and returns at once
 * @property {() => Promise<void>} restart stop() then start again with the same prefix, port and environment
 * @property {() => Promise<import("./procs.mjs").Exit>} exited resolves when launch.sh exits
 * @property {() => string} errorLog logs/error.log of the prefix ("" when absent)
 * @property {() => string} accessLog
 * @property {() => string} output stdout+stderr of launch.sh (nginx's early errors land here)
 * @property {(o: Omit<import("./http.mjs").RequestOptions, "url" | "port"> | string) => Promise<import("./http.mjs").Response>} request a request to this ELB: path, method, headers (Host!), body
 * @property {(method: string, resource: string, body?: unknown) => Promise<import("./http.mjs").Response>} api a request to /__erulb__/<resource>, with the admin token
 * @property {() => Record<string, string>} adminHeaders the admin token header, when ELB_ADMIN_TOKEN was given
 * @property {(timeoutMs?: number, domains?: number) => Promise<any>} waitLoaded waits until /__erulb__/status says loaded (with `domains` domains when given) and every worker applied it; returns that body
 * @property {() => number} masterPid nginx's master (0 when not running)
 * @property {() => number[]} workers nginx's worker processes
 */

/**
 * @param {ElbOptions} [opts]
 * @returns {Promise<Elb>}
 */
export async function startElb(opts = {}) {
  const prefix = opts.prefix ?? tmpDir("elb");
  const port = opts.port ?? (await freePort());
  const elbName = opts.elbName ?? "ELB";
  const tlsPort = opts.tls || opts.tlsPort ? (opts.tlsPort ?? (await freePort())) : 0;
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, ELBNAME: elbName, ELB_PREFIX: prefix, ELB_LISTEN: `${HOST}:${port}`, ELB_WORKERS: String(opts.workers ?? 2), ELB_STOP_TIMEOUT: "5", ELB_TLS_LISTEN: tlsPort ? `${HOST}:${tlsPort}` : "off" };
  for (const k of ["ETCD", "STATSD", "ELB_LOG_STDOUT", "ELB_ADMIN_TOKEN"]) delete env[k];
  if (opts.etcd) env.ETCD = opts.etcd;
  else env.ELB_ETCD_PORT = String(await freePortPair());
  if (opts.statsd) env.STATSD = opts.statsd;
  Object.assign(env, opts.env ?? {});
  const token = env.ELB_ADMIN_TOKEN;
  /** @returns {Record<string, string>} */
  const adminHeaders = () => (token ? { Authorization: `Bearer ${token}` } : {});
  const errorLog = () => logOf(prefix);

  const launch = async () => {
    const proc = start(`elb ${elbName}`, "bash", [LAUNCH_SH], { env, cwd: REPO_ROOT, cpu: opts.cpu, stopSignal: "SIGINT", graceMs: 10000 });
    handle.proc = proc;
    handle.startedAt = Date.now();
    // 200: up. 401/403/404: the endpoint is guarded or not there (yet): nginx answers, up.
    const ok = (/** @type {number} */ s) => s === 200 || s === 401 || s === 403 || s === 404;
    await waitAnswering({ port, proc, name: "launch.sh", path: "/__erulb__/status", headers: adminHeaders(), ok, timeoutMs: opts.timeoutMs ?? 20000, more: errorLog }).catch(async (e) => {
      const out = proc.output();
      await stop(proc, "SIGKILL", 1000);
      throw new Error(`${e instanceof Error ? e.message : e}\n--- launch.sh output ---\n${out}\n--- error.log ---\n${errorLog().slice(-4000)}`);
    });
  };

  /** @param {Omit<import("./http.mjs").RequestOptions, "url" | "port"> | string} o */
  const req = (o) => request({ keepalive: opts.keepalive, ...(typeof o === "string" ? { path: o } : o), port });
  /** @type {Elb} */
  const handle = {
    name: `elb ${elbName}`,
    port,
    url: `http://${HOST}:${port}`,
    tlsPort,
    prefix,
    etcd: opts.etcd ?? `${HOST}:${env.ELB_ETCD_PORT}`,
    elbName,
    proc: /** @type {any} */ (undefined),
    startedAt: 0,
    stop(signal = "SIGINT") {
      untrack(handle);
      return stop(handle.proc, signal, signal === "SIGINT" ? 10000 : 20000);
    },
    kill(signal = "SIGKILL") {
      try {
        handle.proc.child.kill(signal);
      } catch {
        /* gone */
      }
    },
    async restart() {
      await handle.stop();
      track(handle);
      await launch();
    },
    exited: () => handle.proc.exited,
    errorLog,
    accessLog: () => logOf(prefix, "access"),
    output: () => handle.proc.output(),
    request: req,
    api: (method, resource, body) => req({ method, path: `/__erulb__/${resource}`, headers: adminHeaders(), body, timeoutMs: 30000 }),
    adminHeaders,
    waitLoaded: (timeoutMs = 15000, domains) => waitUntilLoaded(handle, { timeoutMs, domains }),
    masterPid: () => masterPid(prefix),
    workers: () => nginxWorkers(masterPid(prefix)),
  };
  await launch();
  return track(handle);
}

/**
 * Waits until the node on target.port says {"loaded": true} (the node read etcd), with
 * `domains` domains when given, and every worker applied what the load committed; returns
 * that status. Fails at once when target.proc exits.
 * @param {{ port: number, proc: import("./procs.mjs").Proc, errorLog(): string, adminHeaders?(): Record<string, string> }} target
 * @param {{ timeoutMs?: number, domains?: number }} [opts]
 */
export function waitUntilLoaded(target, { timeoutMs = 15000, domains } = {}) {
  return waitFor(
    async () => {
      if (!target.proc.alive()) throw new WaitAbort(`ELB exited:\n${target.proc.output().slice(-2000)}\n${target.errorLog().slice(-2000)}`);
      const r = await request({ port: target.port, path: "/__erulb__/status", headers: target.adminHeaders?.() ?? {} });
      const s = r.json;
      const caughtUp = s?.workers?.every((/** @type {{ applied_event: number }} */ w) => w.applied_event >= s.last_event);
      return r.status === 200 && s?.loaded === true && (domains === undefined || s.domains === domains) && caughtUp ? s : undefined;
    },
    timeoutMs,
    `the ELB on ${HOST}:${target.port} to load from etcd${domains !== undefined ? ` with ${domains} domains` : ""}`,
    25,
  );
}
