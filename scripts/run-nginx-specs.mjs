// Runs the in-nginx busted specs (spec/nginx/*_spec.lua, testing layer 3).
//
// It renders a throwaway nginx prefix (daemon off, master_process off, one worker),
// starts a real etcd on 127.0.0.1 with ports picked now, and starts nginx. The
// init_worker handler starts a timer that runs busted in-process with our TAP output
// handler (spec/nginx/support/tap.lua) and then calls os.exit with busted's result,
// which ends nginx (master_process is off). This script
// streams that output, counts the results, stops etcd, removes the prefix and exits with
// busted's status. The last line it prints is exactly: "nginx-specs: N passed, N failed".
//
// Usage: node scripts/run-nginx-specs.mjs [spec files or dirs...]   (build first: npm run build)
// Env:   ELB_SPEC_TIMEOUT  seconds before nginx is killed (default 120)
//        ELB_SPEC_KEEP=1   keep the prefix (logs, conf) for debugging
// The specs see (nginx.conf declares them with env):
//   ETCD, ELB_SPEC_ETCD   host:port of the etcd
//   ELBNAME               "elbspec"
//   ELB_SPEC_CLOSED_PORTS two ports nothing listens on, "p1,p2"
//   ELB_SPEC_HTTP_PORT    a server {} of this nginx: every request gets 200 "ok"
//   ELB_SPEC_HANG_PORT    a server {} of this nginx that reads a request and answers only after 60 s
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { createInterface } from "node:readline";

const root = resolve(new URL("..", import.meta.url).pathname);
const timeoutSec = Number(process.env.ELB_SPEC_TIMEOUT || 120);
const keep = process.env.ELB_SPEC_KEEP === "1";
const modulesDir = "/usr/lib/nginx/modules";

const children = new Set();
let prefix;

function luaString(s) {
  return '"' + s.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
}

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

async function freePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function start(cmd, args, opts) {
  const child = spawn(cmd, args, opts);
  children.add(child);
  child.exited = new Promise((res) => {
    child.on("exit", (code, signal) => {
      children.delete(child);
      res({ code, signal });
    });
    child.on("error", (err) => {
      children.delete(child);
      res({ code: null, signal: null, error: err });
    });
  });
  return child;
}

async function stop(child, graceMs = 5000) {
  if (!children.has(child)) return;
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await child.exited;
  clearTimeout(t);
}

async function waitForEtcd(endpoint, etcd, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!children.has(etcd)) return false;
    try {
      const r = await fetch(`http://${endpoint}/v3/kv/range`, { method: "POST", body: '{"key":"AA=="}' });
      if (r.ok) return true;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return false;
}

function tail(file, lines) {
  if (!existsSync(file)) return "";
  const all = readFileSync(file, "utf8").split("\n");
  return all.slice(-lines).join("\n");
}

function renderConf({ etcdEnv, specArgs, httpPort, hangPort }) {
  const luaPath = [`${root}/build/lua/?.lua`, `${root}/build/lua/?/init.lua`, `${root}/spec/nginx/?.lua`, `${root}/spec/?.lua`, "/usr/share/lua/5.1/?.lua", "/usr/share/lua/5.1/?/init.lua", ";"].join(";");
  const argTable = specArgs.map(luaString).join(", ");
  return `# rendered by scripts/run-nginx-specs.mjs
daemon off;
master_process off;
worker_processes 1;
error_log ${prefix}/logs/error.log info;
pid ${prefix}/logs/nginx.pid;
load_module ${modulesDir}/ndk_http_module.so;
load_module ${modulesDir}/ngx_http_lua_module.so;

${Object.keys(etcdEnv).map((k) => `env ${k};`).join("\n")}

events {
  worker_connections 256;
}

http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;

  lua_package_path "${luaPath}";
  # the dicts of nginx/nginx.conf.tmpl (smaller), and one for the specs themselves
  lua_shared_dict elb_config 32m;
  lua_shared_dict elb_health 4m;
  lua_shared_dict elb_locks 1m;
  lua_shared_dict elb_metrics 1m;
  lua_shared_dict elb_spec 1m;
  lua_socket_log_errors off;

  init_worker_by_lua_block {
    local function run()
      -- Modules that ffi.cdef or keep state must load once: busted's per-file
      -- insulation would otherwise unload and reload them in the next spec file.
      for _, name in ipairs({ "resty.core", "ngx.process", "ngx.balancer", "ngx.re", "ngx.semaphore",
                              "ngx.errlog", "ngx.base64", "resty.lrucache", "cjson", "cjson.safe" }) do
        pcall(require, name)
      end
      -- Specs run one at a time, so the write guard on _G that ngx_lua installs only
      -- fills the log with warnings (busted sets arg, lfs sets lfs, ...).
      setmetatable(_G, nil)
      arg = { [0] = "busted", ${luaString("--output=" + join(root, "spec/nginx/support/tap.lua"))}, "--pattern=_spec", ${argTable} }
      -- Returns when every spec passed; os.exit(1) itself when one failed.
      require("busted.runner")({ standalone = false })
    end
    local ok, err = ngx.timer.at(0, function(premature)
      if premature then return end
      local fine, err = xpcall(run, debug.traceback)
      if not fine then
        io.stdout:write("not ok 0 - the busted runner crashed\\n# ", (tostring(err):gsub("\\n", "\\n# ")), "\\n")
        io.stdout:flush()
        os.exit(2)
      end
      io.stdout:flush()
      os.exit(0)
    end)
    if not ok then
      ngx.log(ngx.EMERG, "cannot start the spec timer: ", err)
      os.exit(3)
    end
  }

  server {
    listen 127.0.0.1:${httpPort};
    location / {
      return 200 "ok";
    }
  }

  server {
    listen 127.0.0.1:${hangPort};
    location / {
      content_by_lua_block {
        ngx.sleep(60)
        ngx.exit(504)
      }
    }
  }
}
`;
}

async function main() {
  for (const mod of ["ndk_http_module.so", "ngx_http_lua_module.so"]) {
    if (!existsSync(join(modulesDir, mod))) {
      console.error(`nginx-specs: ${join(modulesDir, mod)} is missing (install libnginx-mod-http-lua)`);
      return 1;
    }
  }
  if (!existsSync(join(root, "build/lua"))) {
    console.error("nginx-specs: build/lua is missing, run npm run build first");
    return 1;
  }
  const specArgs = process.argv.slice(2).map((p) => (isAbsolute(p) ? p : resolve(process.cwd(), p)));
  if (specArgs.length === 0) specArgs.push(join(root, "spec/nginx"));

  prefix = mkdtempSync(join(tmpdir(), "elb-nginx-specs-"));
  for (const d of ["conf", "logs", "tmp", "etcd"]) mkdirSync(join(prefix, d));

  const [clientPort, peerPort, closedPort1, closedPort2, httpPort, hangPort] = await freePorts(6);
  const etcdEndpoint = `127.0.0.1:${clientPort}`;
  const etcdLog = createWriteStream(join(prefix, "logs/etcd.log"));
  await new Promise((r) => etcdLog.on("open", r));
  const etcd = start(
    "etcd",
    [
      "--name", "spec",
      "--data-dir", join(prefix, "etcd"),
      "--listen-client-urls", `http://${etcdEndpoint}`,
      "--advertise-client-urls", `http://${etcdEndpoint}`,
      "--listen-peer-urls", `http://127.0.0.1:${peerPort}`,
      "--initial-advertise-peer-urls", `http://127.0.0.1:${peerPort}`,
      "--initial-cluster", `spec=http://127.0.0.1:${peerPort}`,
      "--initial-cluster-state", "new",
    ],
    { stdio: ["ignore", etcdLog, etcdLog] },
  );
  if (!(await waitForEtcd(etcdEndpoint, etcd, 20000))) {
    console.error("nginx-specs: etcd did not start; its log ends with:\n" + tail(join(prefix, "logs/etcd.log"), 20));
    return 1;
  }

  const env = {
    ETCD: etcdEndpoint,
    ELBNAME: "elbspec",
    ELB_SPEC_ETCD: etcdEndpoint,
    ELB_SPEC_CLOSED_PORTS: `${closedPort1},${closedPort2}`,
    ELB_SPEC_HTTP_PORT: String(httpPort),
    ELB_SPEC_HANG_PORT: String(hangPort),
  };
  const conf = join(prefix, "conf/nginx.conf");
  writeFileSync(conf, renderConf({ etcdEnv: env, specArgs, httpPort, hangPort }));

  const nginx = start("nginx", ["-p", prefix, "-c", conf, "-e", join(prefix, "logs/error.log")], {
    cwd: prefix,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    console.log(`# nginx-specs: still running after ${timeoutSec} s, killing nginx`);
    nginx.kill("SIGKILL");
  }, timeoutSec * 1000);

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let plan = false;
  const lines = createInterface({ input: nginx.stdout });
  lines.on("line", (line) => {
    console.log(line);
    if (/^ok \d+ - # SKIP/.test(line)) skipped++;
    else if (/^ok \d+/.test(line)) passed++;
    else if (/^not ok \d+/.test(line)) failed++;
    else if (/^1\.\.\d+/.test(line)) plan = true;
  });
  nginx.stderr.on("data", (d) => process.stderr.write(d));
  const [{ code, signal, error }] = await Promise.all([nginx.exited, new Promise((r) => lines.on("close", r))]);
  clearTimeout(timer);

  let status = code ?? 1;
  // Anything but "busted ran to its end" (ordinary spec failures are in the TAP output).
  const abnormal = timedOut || signal || error || !plan || (status !== 0 && failed === 0) || status > 1;
  if (error) console.log(`# nginx-specs: cannot run nginx: ${error.message}`);
  if (timedOut) console.log("# nginx-specs: timed out");
  else if (signal) console.log(`# nginx-specs: nginx ended by ${signal}`);
  if (!plan) console.log("# nginx-specs: busted did not finish its run");
  if (abnormal) {
    console.log("# nginx-specs: the error log ends with:");
    console.log(tail(join(prefix, "logs/error.log"), 30).replace(/^/gm, "#   "));
    if (failed === 0) failed++; // the broken run itself is a failure
  }
  if (status === 0 && failed > 0) status = 1;
  if (skipped) console.log(`# nginx-specs: ${skipped} pending`);
  console.log(`nginx-specs: ${passed} passed, ${failed} failed`);
  return status;
}

let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await Promise.all([...children].map((c) => stop(c)));
    if (prefix) {
      if (keep) console.error(`nginx-specs: kept ${prefix}`);
      else rmSync(prefix, { recursive: true, force: true });
    }
  })();
  return cleaning;
}

let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => {
    interrupted = true;
    await cleanup();
    process.exit(130);
  });
}

let status = 1;
try {
  status = await main();
} catch (err) {
  console.error("nginx-specs: " + (err && err.stack ? err.stack : err));
  console.log("nginx-specs: 0 passed, 1 failed");
}
await cleanup();
process.exit(interrupted ? 130 : status);
