// The processes a benchmark runs beside the shared harness's (test/harness/: processes, ports,
// waits, temp dirs, etcd, ELB through nginx/launch.sh, statsd): the backend (nginx answering
// 1 KB bodies), plain nginx as a proxy, ELB as the bench runs it, ELB from a variant of its
// nginx.conf, and HAProxy. Each start*() returns a handle with stop(), the pids to measure
// (workers()) and a port.
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  HOST,
  REPO_ROOT,
  childrenOf,
  commOf,
  freePort,
  logOf,
  run,
  start,
  startElb as startElbHarness,
  stop,
  tmpDir,
  tmpLabel,
  tmpRoot,
  waitAnswering,
  waitUntilLoaded,
} from "../../test/harness/index.mjs";

tmpLabel("bench");

let luaSnapshot;
/**
 * A private copy of build/lua: other engineers may rebuild build/lua while the benchmark
 * runs, and every ELB of one run must run the same code.
 */
export function luaDir() {
  if (!luaSnapshot) {
    const src = join(REPO_ROOT, "build/lua");
    if (!existsSync(join(src, "phases/init.lua"))) throw new Error("no compiled Lua in build/lua: run npm run build");
    luaSnapshot = join(tmpRoot(), "lua");
    cpSync(src, luaSnapshot, { recursive: true });
  }
  return luaSnapshot;
}

// ---- etcd -----------------------------------------------------------------------------------

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
  const args = [...wrap.slice(1), ...(wrap.length ? ["nginx"] : []), "-p", dir + "/", "-c", file];
  const proc = start(name, wrap[0] ?? "nginx", args, { env, cpu, stopSignal: "SIGTERM" });
  if (port !== undefined) await waitAnswering({ port, proc, name });
  const h = {
    name,
    dir,
    conf: file,
    port,
    proc,
    masterPid: proc.pid,
    workers: () => childrenOf(proc.pid).filter((p) => wrap.length > 0 || commOf(p) === "nginx"),
    errorLog: () => logOf(dir),
    stop: () => stop(proc),
    /** Rewrites the config and asks the master to reload it (SIGHUP). */
    reload(newConf) {
      if (newConf !== undefined) writeFileSync(file, newConf);
      process.kill(proc.pid, "SIGHUP");
    },
  };
  return h;
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
export async function startNginxBackend({ ports, workers = 1, cpu } = {}) {
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

// The proxy settings ELB's location has (nginx/proxy.conf), for plain nginx.
export const PROXY_SETTINGS = `
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
 * ELB through nginx/launch.sh (the harness's startElb) as the bench runs it: one worker, no
 * access log, the private copy of build/lua, the admin API on keepalive connections.
 * opts: the harness's, and logLevel, waitLoaded (wait for /status loaded), expectDomains, loadTimeoutMs.
 */
export async function startElb(opts) {
  const h = await startElbHarness({
    workers: 1,
    timeoutMs: 30000,
    keepalive: true,
    ...opts,
    env: { ELB_ACCESS_LOG: "off", ELB_LOG_LEVEL: opts.logLevel ?? "warn", ELB_LUA_DIR: luaDir(), ...(opts.env ?? {}) },
  });
  h.dir = h.prefix; // the name the sections use, as for the other proxies
  if (opts.waitLoaded) await waitLoaded(h, opts.expectDomains, opts.loadTimeoutMs);
  return h;
}

/** Waits until /__erulb__/status says loaded, with `domains` domains when given; returns the seconds it took. */
export async function waitLoaded(elb, domains, timeoutMs = 120000) {
  const t0 = Date.now();
  await waitUntilLoaded(elb, { domains, timeoutMs });
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
  const proc = start("haproxy", "haproxy", ["-db", "-f", file], { cpu, stopSignal: "SIGTERM" });
  await waitAnswering({ port, proc, name: "haproxy" });
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
    await run("chown", ["-R", user, join(dir, "state"), join(dir, "tmp")]);
  }
  const fullEnv = { ...process.env, ELB_PREFIX: dir, ELB_LISTEN: `${HOST}:${port}`, ELB_ADMIN_ALLOW: "127.0.0.0/8,::1/128", ...env };
  delete fullEnv.ELB_ADMIN_TOKEN;
  if (!env.STATSD) delete fullEnv.STATSD;
  const h = await startNginx(name, "daemon off;\n" + conf, { cpu, dir, env: fullEnv, wrap });
  await waitAnswering({ port, proc: h.proc, name, path: "/__erulb__/status", timeoutMs });
  h.port = port;
  h.elbName = env.ELBNAME;
  await waitUntilLoaded(h, { domains: expectDomains, timeoutMs });
  return h;
}
