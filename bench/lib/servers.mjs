// The processes a benchmark runs: etcd, the backend (nginx answering 1 KB bodies), plain
// nginx as a proxy, ELB (through nginx/launch.sh, as `npm start` runs it) and HAProxy.
// Each start*() returns a handle with stop(), the pids to measure (workers()) and a port.
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HOST, freePort, freePortPair, request } from "./net.mjs";
import { childrenOf, commOf } from "./procstat.mjs";
import { abort, onShutdown, start, stop, waitFor } from "./procs.mjs";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MODULES = "/usr/lib/nginx/modules";

const tmpRoot = mkdtempSync(join(tmpdir(), "elb-bench-"));
// nginx workers may run as www-data (launch.sh as root): let them in.
chmodSync(tmpRoot, 0o755);
let keepTmp = process.env.ELB_BENCH_KEEP === "1";
onShutdown(() => {
  if (!keepTmp) rmSync(tmpRoot, { recursive: true, force: true });
});

export function tmpDir(tag) {
  const d = mkdtempSync(join(tmpRoot, `${tag}-`));
  chmodSync(d, 0o755);
  return d;
}

export function tmpRootDir() {
  return tmpRoot;
}

/** Keep the temp dirs (logs, configs) after the run. */
export function keepTemp() {
  keepTmp = true;
}

let luaSnapshot;
/**
 * A private copy of build/lua: other engineers may rebuild build/lua while the benchmark
 * runs, and every ELB of one run must run the same code.
 */
export function luaDir() {
  if (!luaSnapshot) {
    const src = join(ROOT, "build/lua");
    if (!existsSync(join(src, "phases/init.lua"))) throw new Error("no compiled Lua in build/lua: run npm run build");
    luaSnapshot = join(tmpRoot, "lua");
    cpSync(src, luaSnapshot, { recursive: true });
  }
  return luaSnapshot;
}

function withCpu(cpu, cmd, args) {
  return cpu === undefined ? [cmd, args] : ["taskset", ["-c", String(cpu), cmd, ...args]];
}

async function waitHttp(port, proc, what, path = "/", headers = {}, timeoutMs = 20000) {
  await waitFor(
    async () => {
      if (!proc.alive()) throw abort(`${what} exited:\n${proc.output().slice(-3000)}`);
      const r = await request({ port, path, headers, timeoutMs: 2000 });
      return r.status > 0;
    },
    timeoutMs,
    what,
    50,
  );
}

// ---- etcd -----------------------------------------------------------------------------------

export async function startEtcd({ cpu } = {}) {
  const port = await freePortPair();
  const dir = tmpDir("etcd");
  const url = `http://${HOST}:${port}`;
  const peer = `http://${HOST}:${port + 1}`;
  const [cmd, args] = withCpu(cpu, "etcd", [
    "--name", "bench", "--data-dir", join(dir, "data"),
    "--listen-client-urls", url, "--advertise-client-urls", url,
    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
    "--initial-cluster", `bench=${peer}`, "--initial-cluster-state", "new",
    "--quota-backend-bytes", String(4 * 1024 ** 3),
    "--logger", "zap", "--log-outputs", "stderr", "--log-level", "error",
  ]);
  const proc = start("etcd", cmd, args);
  await waitFor(
    async () => {
      if (!proc.alive()) throw abort(`etcd exited:\n${proc.output().slice(-3000)}`);
      const r = await request({ port, path: "/health", timeoutMs: 1000 });
      return r.status === 200 && r.json?.health === "true";
    },
    20000,
    "etcd",
    100,
  );
  const b64 = (s) => Buffer.from(s).toString("base64");
  const etcd = {
    port,
    endpoint: `${HOST}:${port}`,
    pid: proc.pid,
    stop: () => stop(proc),
    /** One transaction of puts ({key: value}); at most 128 (etcd's --max-txn-ops). */
    async putMany(kvs) {
      const success = Object.entries(kvs).map(([k, v]) => ({ request_put: { key: b64(k), value: b64(v) } }));
      const r = await request({ port, path: "/v3/kv/txn", method: "POST", body: { success }, timeoutMs: 30000 });
      if (r.status !== 200 || !r.json?.succeeded) throw new Error(`etcd txn failed: ${r.status} ${r.body.slice(0, 300)}`);
    },
    async put(key, value) {
      const r = await request({ port, path: "/v3/kv/put", method: "POST", body: { key: b64(key), value: b64(value) } });
      if (r.status !== 200) throw new Error(`etcd put failed: ${r.status} ${r.body.slice(0, 300)}`);
    },
    /** [[key, value], ...] of every key under prefix. */
    async getPrefix(prefix) {
      const end = Buffer.from(prefix);
      end[end.length - 1] += 1;
      const r = await request({ port, path: "/v3/kv/range", method: "POST", body: { key: b64(prefix), range_end: end.toString("base64") }, timeoutMs: 30000 });
      if (r.status !== 200) throw new Error(`etcd range failed: ${r.status} ${r.body.slice(0, 300)}`);
      return (r.json.kvs ?? []).map((kv) => [Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value ?? "", "base64").toString()]);
    },
    async count(prefix) {
      const end = Buffer.from(prefix);
      end[end.length - 1] += 1;
      const r = await request({ port, path: "/v3/kv/range", method: "POST", body: { key: b64(prefix), range_end: end.toString("base64"), count_only: true } });
      return Number(r.json?.count ?? 0);
    },
  };
  return etcd;
}

/**
 * Writes many keys with transactions of `batch` puts (≤ 128), `parallel` at a time.
 * entries: an iterable of [key, value]. Returns the seconds it took.
 */
export async function bulkPut(etcd, entries, { batch = 128, parallel = 8 } = {}) {
  const t0 = Date.now();
  const it = entries[Symbol.iterator]();
  let done = false;
  const nextBatch = () => {
    if (done) return undefined;
    const kv = {};
    let n = 0;
    while (n < batch) {
      const x = it.next();
      if (x.done) {
        done = true;
        break;
      }
      kv[x.value[0]] = x.value[1];
      n += 1;
    }
    return n > 0 ? kv : undefined;
  };
  const worker = async () => {
    for (let kv = nextBatch(); kv; kv = nextBatch()) await etcd.putMany(kv);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return (Date.now() - t0) / 1000;
}

// ---- nginx in general -----------------------------------------------------------------------

/** nginx -p dir -c dir/nginx.conf with `conf` (must say daemon off; pid nginx.pid). */
export async function startNginx(name, conf, { cpu, port, dir = tmpDir(name), env, wrap = [] } = {}) {
  mkdirSync(join(dir, "logs"), { recursive: true });
  mkdirSync(join(dir, "tmp"), { recursive: true });
  const file = join(dir, "nginx.conf");
  writeFileSync(file, conf);
  // wrap: a command that runs nginx (valgrind ...); the workers are then its children
  const [cmd, args] = withCpu(cpu, wrap[0] ?? "nginx", [...wrap.slice(1), ...(wrap.length ? ["nginx"] : []), "-p", dir + "/", "-c", file]);
  const proc = start(name, cmd, args, { env: env ?? process.env, stopSignal: "SIGTERM" });
  if (port !== undefined) await waitHttp(port, proc, name);
  const h = {
    name,
    dir,
    conf: file,
    port,
    proc,
    masterPid: proc.pid,
    workers: () => childrenOf(proc.pid).filter((p) => wrap.length > 0 || commOf(p) === "nginx"),
    errorLog: () => readIf(join(dir, "logs/error.log")),
    stop: () => stop(proc),
    /** Rewrites the config and asks the master to reload it (SIGHUP). */
    reload(newConf) {
      if (newConf !== undefined) writeFileSync(file, newConf);
      process.kill(proc.pid, "SIGHUP");
    },
  };
  return h;
}

function readIf(file) {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

const commonHttp = (dir) => `
    access_log off;
    client_body_temp_path ${dir}/tmp/client_body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
    default_type application/octet-stream;
    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65s;`;

export const BODY_BYTES = 1024;

/** The backend: nginx answering every request with 200 and a 1 KB body, on `ports`. */
export async function startBackend({ ports, workers = 1, cpu } = {}) {
  const dir = tmpDir("backend");
  ports = ports ?? [await freePort()];
  const body = "x".repeat(BODY_BYTES - 1) + "\n";
  const conf = `daemon off;
worker_processes ${workers};
pid nginx.pid;
error_log logs/error.log warn;
events { worker_connections 10240; }
http {${commonHttp(dir)}
    keepalive_requests 1000000;
    server {
${ports.map((p) => `        listen ${HOST}:${p} backlog=4096;`).join("\n")}
        location / { default_type text/plain; return 200 "${body.replace(/\n/, "\\n")}"; }
    }
}
`;
  const h = await startNginx("backend", conf, { cpu, port: ports[0], dir });
  h.ports = ports;
  h.addrs = ports.map((p) => `${HOST}:${p}`);
  return h;
}

// The proxy settings ELB's location has (nginx/nginx.conf.tmpl), for plain nginx.
const PROXY_SETTINGS = `
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_connect_timeout 3s;
            proxy_send_timeout 60s;
            proxy_read_timeout 60s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 0;
            proxy_next_upstream_timeout 0;`;

/** nginx.conf of plain nginx proxying everything to `servers` (["host:port weight=n", ...]). */
export function plainNginxConf({ dir, port, servers, workers = 1, logLevel = "warn" }) {
  return `daemon off;
worker_processes ${workers};
pid nginx.pid;
error_log logs/error.log ${logLevel};
worker_shutdown_timeout 10s;
events { worker_connections 10240; }
http {${commonHttp(dir)}
    keepalive_requests 10000;
    upstream backend {
${servers.map((s) => `        server ${s};`).join("\n")}
        keepalive 320;
        keepalive_requests 10000;
        keepalive_timeout 60s;
    }
    server {
        listen ${HOST}:${port} backlog=4096;
        server_name _;
        location / {${PROXY_SETTINGS}
            proxy_pass http://backend;
        }
    }
}
`;
}

/** Plain nginx: proxy_pass to a static upstream with keepalive, ELB's proxy settings. */
export async function startPlainNginx({ servers, workers = 1, cpu, logLevel, wrap } = {}) {
  const dir = tmpDir("nginx");
  const port = await freePort();
  const h = await startNginx("nginx", plainNginxConf({ dir, port, servers, workers, logLevel }), { cpu, port, dir, wrap });
  h.confFor = (s) => plainNginxConf({ dir, port, servers: s, workers, logLevel });
  return h;
}

// ---- ELB ------------------------------------------------------------------------------------

/**
 * ELB through nginx/launch.sh. opts: etcd (endpoint), elbName, statsd ("host:port"),
 * workers, cpu, env (more launch.sh environment), waitLoaded (wait for /status loaded).
 */
export async function startElb(opts) {
  const dir = opts.dir ?? tmpDir("elb");
  const port = opts.port ?? (await freePort());
  const env = {
    ...process.env,
    ETCD: opts.etcd,
    ELBNAME: opts.elbName ?? "ELB",
    ELB_PREFIX: dir,
    ELB_LISTEN: `${HOST}:${port}`,
    ELB_WORKERS: String(opts.workers ?? 1),
    ELB_ACCESS_LOG: "off",
    ELB_LOG_LEVEL: opts.logLevel ?? "warn",
    ELB_LUA_DIR: luaDir(),
    ELB_STOP_TIMEOUT: "5",
    ...(opts.env ?? {}),
  };
  delete env.STATSD;
  delete env.ELB_LOG_STDOUT;
  delete env.ELB_ADMIN_TOKEN;
  if (opts.statsd) env.STATSD = opts.statsd;
  const t0 = Date.now();
  const [cmd, args] = withCpu(opts.cpu, "bash", [join(ROOT, "nginx/launch.sh")]);
  const proc = start(`elb-${env.ELBNAME}`, cmd, args, { env, stopSignal: "SIGINT", graceMs: 15000 });
  await waitHttp(port, proc, `ELB ${env.ELBNAME}`, "/__erulb__/status", {}, 30000);
  const h = {
    name: "elb",
    dir,
    port,
    proc,
    elbName: env.ELBNAME,
    startedAt: t0,
    masterPid: () => Number(readIf(join(dir, "nginx.pid")).trim()),
    workers() {
      const m = h.masterPid();
      return m ? childrenOf(m).filter((p) => commOf(p) === "nginx") : [];
    },
    errorLog: () => readIf(join(dir, "logs/error.log")),
    status: async () => (await request({ port, path: "/__erulb__/status", timeoutMs: 10000 })).json,
    async api(method, resource, body) {
      const r = await request({ port, path: `/__erulb__/${resource}`, method, body, timeoutMs: 30000, keepalive: true });
      return r;
    },
    stop: () => stop(proc),
  };
  if (opts.waitLoaded) await waitLoaded(h, opts.expectDomains, opts.loadTimeoutMs);
  return h;
}

/** Waits until /__erulb__/status says loaded, with `domains` domains when given; returns s. */
export async function waitLoaded(elb, domains, timeoutMs = 120000) {
  const t0 = Date.now();
  await waitFor(
    async () => {
      if (!elb.proc.alive()) throw abort(`ELB exited:\n${elb.proc.output().slice(-2000)}\n${elb.errorLog().slice(-2000)}`);
      const s = await elb.status();
      return s && s.loaded === true && (domains === undefined || s.domains === domains) && s.workers.every((w) => w.applied_event >= s.last_event);
    },
    timeoutMs,
    `ELB ${elb.elbName} loaded${domains !== undefined ? ` with ${domains} domains` : ""}`,
    25,
  );
  return (Date.now() - t0) / 1000;
}

// ---- HAProxy --------------------------------------------------------------------------------

/**
 * HAProxy 2.6, one thread, with the ACLs equivalent to ELB's rule graph:
 * host, then User-Agent regex, then path regex -> up1; otherwise up2; unknown host -> 404.
 */
export async function startHaproxy({ server, host, uaPattern, pathPattern, cpu, threads = 1 }) {
  const dir = tmpDir("haproxy");
  const port = await freePort();
  const conf = `global
    nbthread ${threads}
    maxconn 9000
    log stderr format raw local0 err

defaults
    mode http
    timeout connect 3s
    timeout client 65s
    timeout server 60s
    timeout http-keep-alive 65s
    option http-keep-alive
    http-reuse always

frontend fe
    bind ${HOST}:${port} backlog 4096
    acl host_ok req.hdr(host),field(1,:),lower -m str ${host}
    acl ua_ok req.fhdr(user-agent) -m reg -i ${uaPattern}
    acl path_ok path_reg ${pathPattern}
    http-request return status 404 content-type application/json string "{\\"msg\\":\\"no rule set for this domain\\"}" unless host_ok
    http-request set-header X-Real-IP %[src]
    http-request set-header X-Forwarded-Proto http
    option forwardfor
    use_backend up1 if ua_ok path_ok
    default_backend up2

backend up1
    server s1 ${server}

backend up2
    server s1 ${server}
`;
  const file = join(dir, "haproxy.cfg");
  writeFileSync(file, conf);
  const [cmd, args] = withCpu(cpu, "haproxy", ["-db", "-f", file]);
  const proc = start("haproxy", cmd, args, { stopSignal: "SIGTERM" });
  await waitHttp(port, proc, "haproxy");
  return {
    name: "haproxy",
    dir,
    port,
    proc,
    workers: () => [proc.pid],
    stop: () => stop(proc),
  };
}

/**
 * ELB from a given nginx.conf text (a variant of the one launch.sh renders), run by nginx
 * directly in its own prefix. env: ETCD, ELBNAME, STATSD, ... (as launch.sh would export).
 * The conf must listen on `port`; it gets `daemon off;`.
 */
export async function startElbConf({ name, conf, port, env, cpu, expectDomains, wrap, timeoutMs = 60000 }) {
  const dir = tmpDir(name);
  for (const d of ["logs", "tmp", "state"]) mkdirSync(join(dir, d), { recursive: true });
  const user = conf.match(/^user (\S+);/m)?.[1];
  if (user && user !== "root" && process.getuid?.() === 0) {
    const { run } = await import("./procs.mjs");
    await run("chown", ["-R", user, join(dir, "state"), join(dir, "tmp")]);
  }
  const fullEnv = { ...process.env, ELB_PREFIX: dir, ELB_LISTEN: `${HOST}:${port}`, ELB_ADMIN_ALLOW: "127.0.0.0/8,::1/128", ...env };
  delete fullEnv.ELB_ADMIN_TOKEN;
  if (!env.STATSD) delete fullEnv.STATSD;
  const h = await startNginx(name, "daemon off;\n" + conf, { cpu, dir, env: fullEnv, wrap });
  await waitHttp(port, h.proc, name, "/__erulb__/status", {}, timeoutMs);
  h.port = port;
  h.elbName = env.ELBNAME;
  h.status = async () => (await request({ port, path: "/__erulb__/status", timeoutMs: 10000 })).json;
  await waitLoaded(h, expectDomains, timeoutMs);
  return h;
}
