// Shared helpers for the end-to-end suites: real etcd, real nginx running the ELB (through
// nginx/launch.sh, exactly as `npm start` does), real backends and a real statsd listener,
// all on 127.0.0.1 with ports chosen at run time.
//
// Every process started here is tracked: call `await stopAll()` in afterAll. Children that
// are still alive when the test process exits are killed (SIGKILL, whole process group).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const LAUNCH_SH = join(REPO_ROOT, "nginx/launch.sh");
const HOST = "127.0.0.1";
const KEEP_TMP = process.env.ELB_KEEP_TMP === "1";

// ---- small utilities -------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}

/** Thrown inside a waitFor() callback: stop waiting and fail at once with this error. */
export class WaitAbort extends Error {}

/**
 * Polls `fn` until it returns a truthy value (which is returned) or throws after timeoutMs.
 * Errors thrown by `fn` count as "not yet", except WaitAbort, which fails at once.
 */
export async function waitFor<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 5000,
  what = "condition",
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e instanceof WaitAbort) throw e;
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const detail = lastErr instanceof Error ? `: ${lastErr.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `elb-e2e-${tag}-`));
  // nginx workers may run as www-data when the tests run as root: let them in.
  chmodSync(dir, 0o755);
  tempDirs.add(dir);
  return dir;
}

// ---- process tracking ------------------------------------------------------------------------

interface Tracked {
  stop(): Promise<unknown>;
}
const tracked = new Set<Tracked>();
const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal); // detached: the child leads its own process group
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

process.on("exit", () => {
  for (const child of liveChildren) killGroup(child, "SIGKILL");
  if (!KEEP_TMP) for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Stops everything this process started (newest first). Safe to call more than once. */
export async function stopAll(): Promise<void> {
  const all = [...tracked].reverse();
  tracked.clear();
  const errors: unknown[] = [];
  for (const t of all) {
    try {
      await t.stop();
    } catch (e) {
      errors.push(e);
    }
  }
  if (!KEEP_TMP) {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    tempDirs.clear();
  }
  if (errors.length) throw errors[0];
}

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive: () => boolean;
  /** The group was swept after the exit (never sweep twice: the id could be reused). */
  reaped?: boolean;
}

function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): Proc {
  const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  liveChildren.add(child);
  const chunks: string[] = [];
  let size = 0;
  const keep = (b: Buffer) => {
    chunks.push(b.toString());
    size += b.length;
    while (size > 1 << 20 && chunks.length > 1) size -= chunks.shift()!.length;
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on("error", (e) => {
      chunks.push(`spawn error: ${e.message}\n`);
      alive = false;
      liveChildren.delete(child);
      res({ code: -1, signal: null });
    });
    child.on("exit", (code, signal) => {
      alive = false;
      liveChildren.delete(child);
      res({ code, signal });
    });
  });
  return { child, output: () => chunks.join(""), exited, alive: () => alive };
}

/**
 * Sends `signal`, waits up to timeoutMs, then SIGKILLs the whole process group; once it has
 * exited, whatever is left of its group (orphaned nginx workers, etcd) is killed too.
 */
async function terminate(p: Proc, signal: NodeJS.Signals, timeoutMs: number) {
  if (p.alive()) {
    try {
      p.child.kill(signal);
    } catch {
      /* gone */
    }
    const timer = sleep(timeoutMs).then(() => "timeout" as const);
    const r = await Promise.race([p.exited, timer]);
    if (r === "timeout") killGroup(p.child, "SIGKILL");
  }
  const res = await p.exited;
  if (!p.reaped) {
    p.reaped = true;
    killGroup(p.child, "SIGKILL");
  }
  return res;
}

// ---- ports -----------------------------------------------------------------------------------

const handedOut = new Set<number>();

function probePort(port: number): Promise<number | undefined> {
  return new Promise((res) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => res(undefined));
    srv.listen({ host: HOST, port, exclusive: true }, () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => res(p));
    });
  });
}

/** A TCP port on 127.0.0.1 that is free now and not handed out before by this process. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const p = await probePort(0);
    if (p && !handedOut.has(p)) {
      handedOut.add(p);
      return p;
    }
  }
  throw new Error("freePort: no free port found");
}

/** Two free consecutive ports p, p+1 (etcd: client, peer); returns p. */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = await probePort(0);
    if (!p || p >= 65535 || handedOut.has(p) || handedOut.has(p + 1)) continue;
    if ((await probePort(p + 1)) === p + 1) {
      handedOut.add(p);
      handedOut.add(p + 1);
      return p;
    }
  }
  throw new Error("freePortPair: no free pair found");
}

// ---- HTTP client -----------------------------------------------------------------------------

export interface RequestOptions {
  url?: string;
  port?: number;
  host?: string;
  path?: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  /** string/Buffer sent as is; anything else is sent as JSON. */
  body?: unknown;
  timeoutMs?: number;
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

/**
 * One request on a fresh connection (no keep-alive). A `Host` (any case) in headers is sent as
 * given, so a request can name any domain while connecting to 127.0.0.1.
 */
export function request(target: string | RequestOptions): Promise<Response> {
  const o: RequestOptions = typeof target === "string" ? { url: target } : target;
  let host = o.host ?? HOST;
  let port = o.port;
  let path = o.path ?? "/";
  if (o.url) {
    const u = new URL(o.url);
    host = u.hostname;
    port = Number(u.port || 80);
    path = o.path ?? u.pathname + u.search;
  }
  if (port === undefined) throw new Error("request: port or url is required");
  const headers: Record<string, string | string[]> = { ...(o.headers ?? {}) };
  let payload: Buffer | undefined;
  if (o.body !== undefined) {
    if (typeof o.body === "string" || Buffer.isBuffer(o.body)) payload = Buffer.from(o.body as string | Buffer);
    else {
      payload = Buffer.from(JSON.stringify(o.body));
      if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-type")) headers["Content-Type"] = "application/json";
    }
    headers["Content-Length"] = String(payload.length);
  }
  const hasHost = Object.keys(headers).some((k) => k.toLowerCase() === "host");
  return new Promise((res, rej) => {
    const req = http.request(
      { host, port, path, method: o.method ?? "GET", headers, agent: false, setHost: !hasHost },
      (r) => {
        const bufs: Buffer[] = [];
        r.on("data", (b: Buffer) => bufs.push(b));
        r.on("error", rej);
        r.on("end", () => {
          const body = Buffer.concat(bufs).toString();
          let json: any;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          res({ status: r.statusCode ?? 0, headers: r.headers, body, json });
        });
      },
    );
    req.setTimeout(o.timeoutMs ?? 10000, () => req.destroy(new Error(`request timed out: ${o.method ?? "GET"} ${host}:${port}${path}`)));
    req.on("error", rej);
    if (payload) req.write(payload);
    req.end();
  });
}

// ---- etcd ------------------------------------------------------------------------------------

export interface EtcdCtlResult {
  stdout: string;
  stderr: string;
}

/** Runs `ETCDCTL_API=3 etcdctl --endpoints=<endpoint> ...args`; rejects on a non-zero exit. */
export function etcdctl(endpoint: string, ...args: string[]): Promise<EtcdCtlResult> {
  return new Promise((res, rej) => {
    const child = spawn("etcdctl", [`--endpoints=${endpoint}`, "--dial-timeout=2s", "--command-timeout=5s", ...args], {
      env: { ...process.env, ETCDCTL_API: "3" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    child.on("error", rej);
    child.on("close", (code) => {
      if (code === 0) res({ stdout, stderr });
      else rej(new Error(`etcdctl ${args.join(" ")} exited ${code}: ${stderr.trim() || stdout.trim()}`));
    });
  });
}

export interface Etcd {
  /** "127.0.0.1:port", the form ETCD takes. */
  endpoint: string;
  /** "http://127.0.0.1:port" */
  url: string;
  port: number;
  dataDir: string;
  /** Stops etcd (TERM, then KILL); the data dir stays until stopAll(). */
  stop(): Promise<void>;
  /** Sends a signal and returns at once (SIGKILL: etcd dies; SIGSTOP: etcd hangs). */
  kill(signal?: NodeJS.Signals): void;
  /** Starts etcd again on the same ports and data (after stop() or kill()). */
  restart(): Promise<void>;
  output(): string;
}

async function etcdHealthy(url: string): Promise<boolean> {
  try {
    const u = new URL("/health", url);
    const r = await request({ host: u.hostname, port: Number(u.port), path: "/health", timeoutMs: 1000 });
    return r.status === 200 && r.json?.health === "true";
  } catch {
    return false;
  }
}

export async function startEtcd(opts: { timeoutMs?: number } = {}): Promise<Etcd> {
  const port = await freePortPair();
  const peer = port + 1;
  const dataDir = tempDir("etcd");
  const url = `http://${HOST}:${port}`;
  const peerUrl = `http://${HOST}:${peer}`;
  const args = [
    "--name", "e2e",
    "--data-dir", join(dataDir, "data"),
    "--listen-client-urls", url,
    "--advertise-client-urls", url,
    "--listen-peer-urls", peerUrl,
    "--initial-advertise-peer-urls", peerUrl,
    "--initial-cluster", `e2e=${peerUrl}`,
    "--logger", "zap",
    "--log-outputs", "stderr",
    "--log-level", "warn",
  ];
  let proc: Proc;
  const launch = async () => {
    proc = startProcess("etcd", args, process.env);
    await waitFor(
      async () => {
        if (!proc.alive()) throw new WaitAbort(`etcd exited:\n${proc.output()}`);
        return etcdHealthy(url);
      },
      opts.timeoutMs ?? 15000,
      `etcd on ${url}`,
      100,
    ).catch(async (e) => {
      await terminate(proc, "SIGKILL", 1000);
      throw e;
    });
  };
  await launch();
  const handle: Etcd & Tracked = {
    endpoint: `${HOST}:${port}`,
    url,
    port,
    dataDir,
    async stop() {
      await terminate(proc, "SIGTERM", 5000);
    },
    kill(signal: NodeJS.Signals = "SIGKILL") {
      killGroup(proc.child, signal);
    },
    async restart() {
      if (proc.alive()) await terminate(proc, "SIGTERM", 5000);
      await launch();
      tracked.add(handle);
    },
    output: () => proc.output(),
  };
  tracked.add(handle);
  return handle;
}

// ---- ELB -------------------------------------------------------------------------------------

export interface ElbOptions {
  /** "host:port" of an etcd (ETCD). Omitted: launch.sh starts its embedded etcd. */
  etcd?: string;
  elbName?: string;
  /** "host:port" of a statsd listener (STATSD). */
  statsd?: string;
  /** worker_processes, default 2. */
  workers?: number;
  /** Extra environment for launch.sh (ELB_ADMIN_TOKEN, ELB_ADMIN_ALLOW, ELB_LUA_DIR, ...). */
  env?: Record<string, string>;
  /** Reuse a runtime dir (e.g. a previous ELB's prefix); default a new temp dir. */
  prefix?: string;
  /** Listening port; default a free one. */
  port?: number;
  /** How long to wait for the ELB to answer, default 20 s. */
  timeoutMs?: number;
}

export interface Elb {
  port: number;
  /** "http://127.0.0.1:port" */
  url: string;
  prefix: string;
  /** The embedded etcd's "127.0.0.1:port" when opts.etcd was omitted, else opts.etcd. */
  etcd: string;
  /** Stops launch.sh and everything it started. SIGINT (default): fast; SIGTERM: graceful. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal to launch.sh only and returns at once. */
  kill(signal?: NodeJS.Signals): void;
  /** stop() then start again with the same prefix, port and environment. */
  restart(): Promise<void>;
  /** Resolves when launch.sh exits. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** logs/error.log of the prefix ("" when absent). */
  errorLog(): string;
  accessLog(): string;
  /** stdout+stderr of launch.sh (nginx's early errors land here). */
  output(): string;
  /** request() against this ELB: path, method, headers (Host!), body. */
  request(o: Omit<RequestOptions, "url" | "port"> | string): Promise<Response>;
  /** The admin token header, when ELB_ADMIN_TOKEN was given. */
  adminHeaders(): Record<string, string>;
  /** Waits until GET /__erulb__/status says {"loaded": true} (the node read etcd) and every worker applied it; returns that body. */
  waitLoaded(timeoutMs?: number): Promise<any>;
}

function readOr(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

export async function startElb(opts: ElbOptions = {}): Promise<Elb> {
  const prefix = opts.prefix ?? tempDir("elb");
  const port = opts.port ?? (await freePort());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ELBNAME: opts.elbName ?? "ELB",
    ELB_PREFIX: prefix,
    ELB_LISTEN: `${HOST}:${port}`,
    ELB_WORKERS: String(opts.workers ?? 2),
    ELB_STOP_TIMEOUT: "5",
  };
  delete env.ETCD;
  delete env.STATSD;
  delete env.ELB_LOG_STDOUT;
  if (opts.etcd) env.ETCD = opts.etcd;
  else env.ELB_ETCD_PORT = String(await freePortPair());
  if (opts.statsd) env.STATSD = opts.statsd;
  Object.assign(env, opts.env ?? {});
  const etcdEndpoint = opts.etcd ?? `${HOST}:${env.ELB_ETCD_PORT}`;
  const token = env.ELB_ADMIN_TOKEN;
  const adminHeaders = (): Record<string, string> => (token ? { Authorization: `Bearer ${token}` } : {});

  let proc: Proc;
  const launch = async () => {
    proc = startProcess("bash", [LAUNCH_SH], env);
    await waitFor(
      async () => {
        if (!proc.alive()) throw new WaitAbort(`launch.sh exited:\n${proc.output()}\n${readOr(join(prefix, "logs/error.log"))}`);
        try {
          const r = await request({ port, path: "/__erulb__/status", headers: adminHeaders(), timeoutMs: 2000 });
          // 200: up. 401/403/404: the endpoint is guarded or not there (yet): nginx answers, up.
          return r.status === 200 || r.status === 401 || r.status === 403 || r.status === 404;
        } catch {
          return false;
        }
      },
      opts.timeoutMs ?? 20000,
      `ELB on ${HOST}:${port}`,
      100,
    ).catch(async (e) => {
      const out = proc.output();
      await terminate(proc, "SIGKILL", 1000);
      throw new Error(`${e instanceof Error ? e.message : e}\n--- launch.sh output ---\n${out}\n--- error.log ---\n${readOr(join(prefix, "logs/error.log")).slice(-4000)}`);
    });
  };
  await launch();

  const handle: Elb & Tracked = {
    port,
    url: `http://${HOST}:${port}`,
    prefix,
    etcd: etcdEndpoint,
    async stop(signal: NodeJS.Signals = "SIGINT") {
      tracked.delete(handle);
      return terminate(proc, signal, signal === "SIGINT" ? 10000 : 20000);
    },
    kill(signal: NodeJS.Signals = "SIGKILL") {
      try {
        proc.child.kill(signal);
      } catch {
        /* gone */
      }
    },
    async restart() {
      await handle.stop();
      tracked.add(handle);
      await launch();
    },
    exited: () => proc.exited,
    errorLog: () => readOr(join(prefix, "logs/error.log")),
    accessLog: () => readOr(join(prefix, "logs/access.log")),
    output: () => proc.output(),
    request(o) {
      const ro = typeof o === "string" ? { path: o } : o;
      return request({ ...ro, port });
    },
    adminHeaders,
    waitLoaded(timeoutMs = 15000) {
      return waitFor(
        async () => {
          const r = await request({ port, path: "/__erulb__/status", headers: adminHeaders(), timeoutMs: 2000 });
          // loaded, and every worker applied what the load committed (they follow within ms)
          const s = r.json;
          const caughtUp = s?.workers?.every((w: any) => w.applied_event >= s.last_event);
          return r.status === 200 && s?.loaded === true && caughtUp ? s : undefined;
        },
        timeoutMs,
        `ELB on ${HOST}:${port} to load from etcd`,
        50,
      );
    },
  };
  tracked.add(handle);
  return handle;
}

// ---- backends --------------------------------------------------------------------------------

export interface BackendRequest {
  method: string;
  path: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface BackendOptions {
  /** Status to answer, default 200. */
  status?: number;
  /** Delay before answering, in ms. */
  delayMs?: number;
  /** Port to listen on, default a free one. */
  port?: number;
}

export interface Backend {
  name: string;
  port: number;
  /** "127.0.0.1:port", the form an upstream server takes. */
  addr: string;
  url: string;
  /** Every request received, in order. */
  requests: BackendRequest[];
  hits(): number;
  /** Change the answer of later requests. */
  set(opts: Pick<BackendOptions, "status" | "delayMs">): void;
  /** Closes the listener and every connection. */
  stop(): Promise<void>;
  /** Same as stop(), abrupt: connections are destroyed, new ones are refused. */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

/**
 * An HTTP server answering `{backend: name, method, path, url, headers, body}` as JSON
 * (path without the query, url with it).
 */
export async function startBackend(name: string, opts: BackendOptions = {}): Promise<Backend> {
  let status = opts.status ?? 200;
  let delayMs = opts.delayMs ?? 0;
  const requests: BackendRequest[] = [];
  const sockets = new Set<net.Socket>();
  let server: http.Server;

  const listen = (port: number) =>
    new Promise<number>((res, rej) => {
      server = http.createServer((req, res2) => {
        const bufs: Buffer[] = [];
        req.on("data", (b: Buffer) => bufs.push(b));
        req.on("end", () => {
          const url = req.url ?? "/";
          const q = url.indexOf("?");
          const entry: BackendRequest = {
            method: req.method ?? "",
            path: q < 0 ? url : url.slice(0, q),
            url,
            headers: req.headers,
            body: Buffer.concat(bufs).toString(),
          };
          requests.push(entry);
          const send = () => {
            if (res2.destroyed) return;
            const body = JSON.stringify({ backend: name, ...entry });
            res2.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
            res2.end(body);
          };
          if (delayMs > 0) setTimeout(send, delayMs);
          else send();
        });
      });
      server.keepAliveTimeout = 65000;
      server.on("connection", (s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
      });
      server.once("error", rej);
      server.listen({ host: HOST, port, exclusive: true }, () => res((server.address() as net.AddressInfo).port));
    });

  const port = await listen(opts.port ?? 0);
  handedOut.add(port);
  let listening = true;
  const close = () =>
    new Promise<void>((res) => {
      if (!listening) return res();
      listening = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
      server.close(() => res());
      server.closeAllConnections();
    });

  const handle: Backend & Tracked = {
    name,
    port,
    addr: `${HOST}:${port}`,
    url: `http://${HOST}:${port}`,
    requests,
    hits: () => requests.length,
    set(o) {
      if (o.status !== undefined) status = o.status;
      if (o.delayMs !== undefined) delayMs = o.delayMs;
    },
    stop: close,
    kill: close,
    async restart() {
      await close();
      await listen(port);
      listening = true;
      tracked.add(handle);
    },
  };
  tracked.add(handle);
  return handle;
}

// ---- statsd ----------------------------------------------------------------------------------

export interface StatsdMetric {
  name: string;
  value: number;
  type: string;
  rate?: number;
}

/** Parses one statsd line: `name:value|type[|@rate]`. */
export function parseStatsdLine(line: string): StatsdMetric | undefined {
  const m = /^([^:]+):(-?[0-9.eE+-]+)\|([a-z]+)(?:\|@([0-9.]+))?$/.exec(line.trim());
  if (!m) return undefined;
  return { name: m[1], value: Number(m[2]), type: m[3], rate: m[4] === undefined ? undefined : Number(m[4]) };
}

export interface Statsd {
  port: number;
  /** "127.0.0.1:port", the form STATSD takes. */
  endpoint: string;
  /** Every datagram received, as text. */
  datagrams: string[];
  /** Every non-empty line of every datagram, in order. */
  lines: string[];
  /** Sum of the values of counter lines named `name` (sample rates applied). */
  counter(name: string): number;
  /** Values of timer lines named `name`. */
  timings(name: string): number[];
  /** Resolves with the first truthy value of predicate(lines) (checked on every datagram). */
  waitFor<T>(predicate: (lines: string[]) => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  clear(): void;
  stop(): Promise<void>;
}

export async function startStatsd(): Promise<Statsd> {
  const sock: UdpSocket = createSocket("udp4");
  const datagrams: string[] = [];
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  sock.on("message", (msg) => {
    const text = msg.toString();
    datagrams.push(text);
    for (const l of text.split("\n")) if (l.trim() !== "") lines.push(l);
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((res, rej) => {
    sock.once("error", rej);
    sock.bind(0, HOST, () => res());
  });
  const port = sock.address().port;
  handedOut.add(port);
  let open = true;
  const handle: Statsd & Tracked = {
    port,
    endpoint: `${HOST}:${port}`,
    datagrams,
    lines,
    counter(name) {
      let sum = 0;
      for (const l of lines) {
        const m = parseStatsdLine(l);
        if (m && m.name === name && m.type === "c") sum += m.rate ? m.value / m.rate : m.value;
      }
      return sum;
    },
    timings(name) {
      const out: number[] = [];
      for (const l of lines) {
        const m = parseStatsdLine(l);
        if (m && m.name === name && m.type === "ms") out.push(m.value);
      }
      return out;
    },
    waitFor<T>(predicate: (lines: string[]) => T | undefined | null | false, timeoutMs = 5000) {
      return new Promise<T>((res, rej) => {
        const check = () => {
          let v: T | undefined | null | false;
          try {
            v = predicate(lines);
          } catch (e) {
            done();
            rej(e);
            return;
          }
          if (v) {
            done();
            res(v);
          }
        };
        const timer = setTimeout(() => {
          done();
          rej(new Error(`statsd: timed out after ${timeoutMs} ms; received:\n${lines.slice(-50).join("\n")}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    clear() {
      datagrams.length = 0;
      lines.length = 0;
    },
    stop() {
      return new Promise<void>((res) => {
        if (!open) return res();
        open = false;
        sock.close(() => res());
      });
    },
  };
  tracked.add(handle);
  return handle;
}

/** Sends one UDP datagram (for testing the statsd listener itself). */
export function sendUdp(port: number, text: string): Promise<void> {
  return new Promise((res, rej) => {
    const s = createSocket("udp4");
    s.send(Buffer.from(text), port, HOST, (err) => {
      s.close();
      if (err) rej(err);
      else res();
    });
  });
}

/** True when `cmd` is on PATH (to skip suites loudly when a tool is missing). */
export function haveCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** True when the compiled Lua exists (npm run build ran). */
export function haveBuild(): boolean {
  return existsSync(join(REPO_ROOT, "build/lua/phases/init.lua"));
}
