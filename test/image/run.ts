// npm run image-test: builds the image from the repository's Dockerfile with podman and runs
// it as README's Docker section says, with host networking on 127.0.0.1 ports picked at run
// time. Not part of npm test (the build alone takes minutes with vfs storage).
//
//   1. installs podman, runc and mmdebstrap from Debian when missing
//   2. makes the base images when the store lacks them (no registry is reachable here):
//      debian:bookworm-slim from mmdebstrap, and a stand-in for node:20-bookworm (bases.ts)
//   3. builds the image (vfs storage, chroot isolation), reports its build time and size
//   4. with ETCD (an etcd this test starts), ELBNAME and STATSD: the Eru README's scenario
//   5. without ETCD: the embedded etcd, its data in a volume across restarts and containers
//   6. the HTTPS listener: 443 in the image; a certificate through the API, one HTTPS request
//   7. removes every container, volume and image it made, and its store unless kept
//
// ELB_IMAGE_STORE=<dir> keeps the store there, with the base images, for the next run.
// Ends with "N passed, N failed"; exit status 1 when anything failed.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import https from "node:https";
import { REPO_ROOT, etcdctl, freePort, freePortPair, makeCa, makeCert, opensslView, startBackend, startEtcd, startStatsd, stopAll, waitFor, type Backend, type Statsd } from "../e2e/harness";
import { SLIM, nodeBase, slimBase, type Base } from "./bases";
import { runElb, type ElbContainer } from "./container";
import { Made, imageIds, makeStore, podman, removeStore, run, type Store } from "./podman";

const HOST_PACKAGES = ["podman", "runc", "mmdebstrap"];
const runId = `${process.pid}-${Date.now().toString(36)}`;
const IMAGE = `localhost/elb-image-test:${runId}`;
const NAME = `elb-image-test-${runId}`;

let passed = 0;
let failed = 0;
const out = (s: string) => console.log(s);
const note = (s: string) => out(`image-test: ${s}`);

/** A failed check ends its part: what follows depends on it. */
class PartStopped extends Error {}

async function check(name: string, fn: () => Promise<string | void>): Promise<void> {
  const started = Date.now();
  try {
    const detail = await fn();
    passed++;
    out(`  ok    ${name}${detail ? ` (${detail})` : ""} [${((Date.now() - started) / 1000).toFixed(1)} s]`);
  } catch (e) {
    failed++;
    out(`  FAIL  ${name}\n${String(e instanceof Error ? e.message : e).replace(/^/gm, "        ")}`);
    throw new PartStopped();
  }
}

async function part(title: string, fn: () => Promise<void>): Promise<boolean> {
  out(`\n${title}`);
  try {
    await fn();
    return true;
  } catch (e) {
    if (!(e instanceof PartStopped)) {
      failed++;
      out(`  FAIL  ${title}: ${e instanceof Error ? e.stack : e}`);
    }
    out("        (the rest of this part did not run)");
    return false;
  }
}

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

// ---- the host ---------------------------------------------------------------------------------

function installed(pkg: string): boolean {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

async function hostPackages(): Promise<string> {
  const missing = HOST_PACKAGES.filter((p) => !installed(p));
  if (!missing.length) return `${HOST_PACKAGES.join(", ")} already installed`;
  assert(process.getuid?.() === 0, `run as root to install ${missing.join(" ")} (and to run podman with host networking)`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = ["install", "-y", "-qq", "--no-install-recommends", ...missing];
  const first = await run("apt-get", install, { env, allowFail: true, timeoutMs: 900_000 });
  if (first.code !== 0) {
    await run("apt-get", ["update", "-qq"], { env, timeoutMs: 600_000 });
    await run("apt-get", install, { env, timeoutMs: 900_000 });
  }
  return `installed ${missing.join(", ")}`;
}

// ---- the image --------------------------------------------------------------------------------

interface Built {
  ms: number;
  bytes: number;
  config: { Env?: string[]; ExposedPorts?: Record<string, unknown>; Entrypoint?: string[]; StopSignal?: string };
}

async function build(store: Store): Promise<Built> {
  const r = await podman(
    store,
    ["build", "--pull=never", "--isolation", "chroot", "--layers=false", "--tag", IMAGE, "--file", join(REPO_ROOT, "Dockerfile"), REPO_ROOT],
    { timeoutMs: 1_800_000 },
  );
  for (const l of r.stdout.split("\n")) if (/^(\[\d+\/\d+\] )?(STEP|COMMIT)/.test(l)) out(`        ${l.slice(0, 150)}`);
  const inspect = await podman(store, ["image", "inspect", "--format", "{{.Size}} {{json .Config}}", IMAGE]);
  const space = inspect.stdout.indexOf(" ");
  return { ms: r.ms, bytes: Number(inspect.stdout.slice(0, space)), config: JSON.parse(inspect.stdout.slice(space + 1)) };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

// ---- the scenarios ----------------------------------------------------------------------------

// The Eru README's rule set, from the shared vectors: HTTPie on /blog/... goes to upstream1,
// everything else to upstream2.
const SEED_RULES = JSON.parse(readFileSync(join(REPO_ROOT, "test/vectors/ruleset.json"), "utf8")).valid.find((v: { name: string }) =>
  v.name.startsWith("the seed README graph"),
).ruleset;

async function adminPut(elb: ElbContainer, resource: string, body: unknown): Promise<void> {
  const r = await elb.request({ method: "PUT", path: `/__erulb__/${resource}`, body });
  assert(r.status === 200 && r.json?.msg === "OK", `PUT /__erulb__/${resource}: ${r.status} ${r.body}`);
}

async function routedTo(elb: ElbContainer, host: string, path: string, ua: string | undefined, want: Backend): Promise<string> {
  const headers: Record<string, string> = { Host: host };
  if (ua) headers["User-Agent"] = ua;
  const r = await elb.request({ path, headers });
  assert(r.status === 200 && r.json?.backend === want.name && r.json?.path === path, `${ua ?? "no User-Agent"} ${host}${path}: want ${want.name} with path ${path}, got ${r.status} ${r.body.slice(0, 300)}`);
  return `${ua ?? "no UA"} ${path} -> ${want.name}`;
}

const count = (text: string, s: string) => text.split(s).length - 1;

/**
 * `podman stop` within docker's 10 s, exit status 0, the launcher's and nginx's graceful path
 * in the logs (the launcher's stopsBefore earlier stops of this container are in them too).
 */
async function gracefulStop(elb: ElbContainer, stopsBefore: number): Promise<{ ms: number; stderr: string }> {
  const ms = await elb.stop();
  const st = await elb.state();
  const { stderr } = await elb.logs();
  assert(!st.running && st.exitCode === 0, `exit status ${st.exitCode} (running: ${st.running}), want 0:\n${stderr.slice(-2000)}`);
  assert(ms < 10_000, `podman stop took ${ms} ms (docker stop kills at 10 s)`);
  assert(count(stderr, "elb: stopping (graceful)") === stopsBefore + 1 && count(stderr, "elb: stopped") === stopsBefore + 1, `no graceful stop in the logs:\n${stderr.slice(-2000)}`);
  assert(stderr.includes("gracefully shutting down"), "nginx did not log a graceful shutdown");
  return { ms, stderr };
}

/**
 * Sends a request that the backend holds; resolves once the backend has it, with the answer
 * still to come (in an object: an async function returning a promise would wait for it).
 */
async function inFlight(elb: ElbContainer, backend: Backend, host: string, path: string, ua?: string) {
  const headers: Record<string, string> = { Host: host };
  if (ua) headers["User-Agent"] = ua;
  const answer = elb.request({ path, headers, timeoutMs: 30_000 }).then(
    (r) => ({ status: r.status, backend: r.json?.backend as string | undefined, error: undefined }),
    (e: Error) => ({ status: 0, backend: undefined, error: e.message }),
  );
  await waitFor(() => backend.requests.some((r) => r.path === path), 5000, `${path} to reach backend ${backend.name}`);
  return { answer };
}

async function withExternalEtcd(made: Made): Promise<void> {
  const etcd = await startEtcd();
  const a = await startBackend("a");
  const b = await startBackend("b");
  const statsd: Statsd = await startStatsd();
  const elbName = "ELBIMG";
  let elb!: ElbContainer;

  await check(`podman run --net host -e ETCD=${etcd.endpoint} -e ELBNAME=${elbName} -e STATSD=${statsd.endpoint}`, async () => {
    elb = await runElb(made, { name: `${NAME}-etcd`, image: IMAGE, port: await freePort(), env: { ETCD: etcd.endpoint, ELBNAME: elbName, STATSD: statsd.endpoint } });
    const st = (await elb.request({ path: "/__erulb__/status" })).json;
    assert(st.etcd === "connected" && st.elbname === elbName, `status: ${JSON.stringify(st)}`);
    return `127.0.0.1:${elb.port}`;
  });
  await check("upstream PUT and domain PUT (the Eru README's rule set)", async () => {
    await adminPut(elb, "upstream", { upstream1: { [a.addr]: "" }, upstream2: { [b.addr]: "max_fails=2 weight=10" } });
    await adminPut(elb, "domain", { localhost: SEED_RULES });
  });
  await check(`the writes are in the test's etcd under /${elbName}/`, async () => {
    const keys = (await etcdctl(etcd.endpoint, "get", "--prefix", `/${elbName}/`, "--keys-only")).stdout.split("\n").filter(Boolean);
    for (const k of [`/${elbName}/rules/localhost`, `/${elbName}/upstreams/upstream1/${a.addr}`, `/${elbName}/upstreams/upstream2/${b.addr}`]) assert(keys.includes(k), `no ${k} in ${keys.join(" ")}`);
    const params = (await etcdctl(etcd.endpoint, "get", "--print-value-only", `/${elbName}/upstreams/upstream2/${b.addr}`)).stdout.trim();
    assert(params === "max_fails=2 weight=10", `upstream2 params: ${params}`);
    const domains = (await elb.request({ path: "/__erulb__/domain" })).json;
    assert(JSON.stringify(domains?.localhost?.rules?.r4?.args?.pattern) === JSON.stringify(SEED_RULES.rules.r4.args.pattern), `GET domain: ${JSON.stringify(domains)}`);
    return keys.filter((k) => !k.includes("/nodes/")).join(" ");
  });
  await check("requests routed by User-Agent and path", async () => {
    const seen = [
      await routedTo(elb, "localhost", "/blog/post", "HTTPie/0.9.9", a),
      await routedTo(elb, "localhost", "/blog/post", "curl/7.88.1", b),
      await routedTo(elb, "localhost", "/about", "HTTPie/0.9.9", b),
      await routedTo(elb, "localhost", "/blog/post", undefined, b),
    ];
    const unknown = await elb.request({ path: "/", headers: { Host: "nowhere.test" } });
    assert(unknown.status === 404, `unknown domain: ${unknown.status} ${unknown.body}`);
    return seen.join(", ");
  });
  await check(`statsd lines received on ${statsd.endpoint}`, async () => {
    const total = `${elbName}.localhost.total`;
    await statsd.waitFor(() => statsd.counter(total) >= 4 && statsd.counter(`${elbName}.localhost.status.200`) >= 4 && statsd.timings(`${elbName}.localhost.cost`).length > 0, 10_000);
    return `${total}=${statsd.counter(total)}, e.g. ${statsd.lines.slice(0, 3).join(" ")}`;
  });
  await check("logs: access log on stdout, nginx's error log and the launcher on stderr", async () => {
    const { stdout, stderr } = await elb.logs();
    assert(stdout.includes('"localhost" "GET /blog/post HTTP/1.1" 200') && stdout.includes(`upstream=${a.addr}`), `no access log line on stdout:\n${stdout.slice(-1500)}`);
    assert(!stdout.includes("[notice]"), "nginx's error log went to stdout");
    assert(stderr.includes(`elb: nginx on 127.0.0.1:${elb.port}`) && stderr.includes(`etcd ${etcd.endpoint}, name ${elbName}, statsd ${statsd.endpoint}`), `no launcher line on stderr:\n${stderr.slice(-1500)}`);
    assert(/\[notice\] .*start worker process/.test(stderr), `no nginx notice on stderr:\n${stderr.slice(-1500)}`);
    return `${count(stdout, "\n")} stdout lines, ${count(stderr, "\n")} stderr lines`;
  });
  await check("podman stop with a request in flight: it is answered, the stop is graceful and within 10 s", async () => {
    a.set({ delayMs: 2000 });
    const { answer } = await inFlight(elb, a, "localhost", "/blog/slow", "HTTPie/0.9.9");
    const { ms, stderr } = await gracefulStop(elb, 0);
    const r = await answer;
    assert(r.status === 200 && r.backend === "a", `the request in flight got ${JSON.stringify(r)}`);
    assert(!stderr.includes("stopping (fast)"), "the launcher fell back to a fast stop");
    assert(ms >= 1500, `stopped after ${ms} ms: the stop did not wait for the request (2 s at the backend)`);
    return `${ms} ms, exit 0, the request in flight got its 200 from a`;
  });
}

async function withEmbeddedEtcd(made: Made): Promise<void> {
  const web = await startBackend("web");
  const volume = `${NAME}-etcd-data`;
  const port = await freePort();
  const etcdPort = await freePortPair();
  const opts = { image: IMAGE, port, env: { ELB_ETCD_PORT: String(etcdPort) }, volume: `${volume}:/var/lib/elb/etcd` };
  let elb!: ElbContainer;

  await check(`podman run --net host -v ${volume}:/var/lib/elb/etcd (no ETCD: the embedded etcd)`, async () => {
    made.volumes.push(volume);
    await podman(made.store, ["volume", "create", volume]);
    elb = await runElb(made, { ...opts, name: `${NAME}-embedded` });
    const st = (await elb.request({ path: "/__erulb__/status" })).json;
    assert(st.etcd === "connected" && st.elbname === "ELB", `status: ${JSON.stringify(st)}`);
    return `ELB on 127.0.0.1:${port}, etcd on 127.0.0.1:${etcdPort}`;
  });
  await check("logs: the embedded etcd's own output and nginx's on stderr", async () => {
    const { stderr } = await elb.logs();
    assert(stderr.includes(`elb: starting embedded etcd on http://127.0.0.1:${etcdPort} (data in /var/lib/elb/etcd)`), `no etcd start line:\n${stderr.slice(-1500)}`);
    const etcdLine = stderr.split("\n").find((l) => /^\{"level":"\w+","ts":.*"caller":/.test(l));
    assert(etcdLine, `no line of etcd's log:\n${stderr.slice(-1500)}`);
    assert(/\[notice\] .*start worker process/.test(stderr), "no nginx notice on stderr");
    return etcdLine.slice(0, 120);
  });
  await check("a domain PUT through the admin API is served", async () => {
    await adminPut(elb, "upstream", { web: { [web.addr]: "" } });
    await adminPut(elb, "domain", { "img.test": { init: "b", rules: { b: { type: "backend", args: { servername: "web" } } } } });
    return routedTo(elb, "img.test", "/", "curl/7.88.1", web);
  });
  await check("podman restart: graceful, and the domain is served again", async () => {
    await elb.restart();
    const { stderr } = await elb.logs();
    assert(count(stderr, "elb: stopping (graceful)") === 1 && count(stderr, "elb: stopped") === 1, `no graceful stop in the logs:\n${stderr.slice(-1500)}`);
    return routedTo(elb, "img.test", "/after-restart", "curl/7.88.1", web);
  });
  await check("podman stop: graceful, within 10 s, exit 0", async () => {
    const { ms, stderr } = await gracefulStop(elb, 1);
    assert(!stderr.includes("stopping (fast)"), "the launcher fell back to a fast stop");
    return `${ms} ms, exit 0`;
  });
  await check("a new container on the same volume serves the domain from the etcd data", async () => {
    await podman(made.store, ["rm", `${NAME}-embedded`]);
    elb = await runElb(made, { ...opts, name: `${NAME}-embedded-2` });
    const { stderr } = await elb.logs();
    // the prefix outside the volume is new: no snapshot, so the domain came from etcd's data
    assert(stderr.includes("last known good configuration: no snapshot"), `the new container had a snapshot:\n${stderr.slice(-1500)}`);
    const st = (await elb.request({ path: "/__erulb__/status" })).json;
    assert(st.domains === 1 && st.upstreams === 1, `status: ${JSON.stringify(st)}`);
    return routedTo(elb, "img.test", "/new-container", "curl/7.88.1", web);
  });
  await check("podman stop with a request that never ends: cut after ELB_STOP_TIMEOUT (8 s), still within 10 s", async () => {
    web.set({ delayMs: 60_000 });
    const { answer } = await inFlight(elb, web, "img.test", "/never-ends");
    const { ms, stderr } = await gracefulStop(elb, 0);
    const r = await answer;
    assert(r.status !== 200, `the request that never ends got ${JSON.stringify(r)}`);
    assert(ms >= 7500, `stopped after ${ms} ms: the graceful stop did not wait for the request (${JSON.stringify(r)}):\n${stderr.slice(-2500)}`);
    assert(stderr.includes("stopping (fast)"), `no fast stop in the logs:\n${stderr.slice(-1500)}`);
    return `${ms} ms, exit 0, the request: ${r.error ?? r.status}`;
  });
}

/**
 * The HTTPS listener: port 443 in the image (EXPOSE, ELB_TLS_LISTEN=443), run here on a port
 * picked now. A certificate made by the test (its own CA) goes through the admin API; one
 * HTTPS request with its SNI name, trusting only that CA, is routed to the test's backend.
 */
async function httpsListener(built: Built, made: Made): Promise<string> {
  await check("the image exposes 443 and sets ELB_TLS_LISTEN=443", async () => {
    assert(Object.keys(built.config.ExposedPorts ?? {}).includes("443/tcp"), `exposed: ${JSON.stringify(built.config.ExposedPorts)}`);
    assert(built.config.Env?.includes("ELB_TLS_LISTEN=443"), `environment: ${JSON.stringify(built.config.Env)}`);
  });
  const web = await startBackend("secure");
  const port = await freePort();
  const tlsPort = await freePort();
  const ca = makeCa("image-test CA");
  const leaf = makeCert(ca, { names: ["secure.test"] });
  let elb!: ElbContainer;
  await check("a certificate PUT through the admin API", async () => {
    elb = await runElb(made, { name: `${NAME}-https`, image: IMAGE, port, tlsPort, env: { ELB_ETCD_PORT: String(await freePortPair()) } });
    await adminPut(elb, "cert", { "secure.test": { cert: leaf.cert, key: leaf.key } });
    await adminPut(elb, "upstream", { secure: { [web.addr]: "" } });
    await adminPut(elb, "domain", { "secure.test": { init: "b", rules: { b: { type: "backend", args: { servername: "secure" } } } } });
    const got = (await elb.request({ path: "/__erulb__/cert" })).json;
    assert(got?.["secure.test"]?.names?.[0] === "secure.test", `GET cert: ${JSON.stringify(got)}`);
  });
  let detail = "";
  await check("one HTTPS request with SNI secure.test, trusting only the test's CA", async () => {
    const r = await new Promise<{ status: number; body: string; fp: string }>((res, rej) => {
      const req = https.request({ host: "127.0.0.1", port: tlsPort, path: "/over-tls", servername: "secure.test", headers: { Host: "secure.test" }, ca: ca.cert, agent: false, timeout: 10_000 }, (resp) => {
        let body = "";
        resp.on("data", (b) => (body += b));
        resp.on("end", () => res({ status: resp.statusCode ?? 0, body, fp: (resp.socket as import("node:tls").TLSSocket).getPeerCertificate().fingerprint256 }));
      });
      req.on("error", rej);
      req.end();
    });
    assert(r.status === 200, `status ${r.status}: ${r.body}`);
    const seen = JSON.parse(r.body);
    assert(seen.backend === "secure" && seen.headers["x-forwarded-proto"] === "https", `the backend saw ${r.body}`);
    assert(r.fp === opensslView(leaf.cert).fingerprint, `served ${r.fp}`);
    detail = `127.0.0.1:${tlsPort}, certificate ${r.fp.slice(0, 23)}..., X-Forwarded-Proto: https`;
    return detail;
  });
  await check("podman stop: graceful, exit 0", async () => {
    const { ms } = await gracefulStop(elb, 0);
    return `${ms} ms`;
  });
  return `checked: ${detail}`;
}

// ---- the run ----------------------------------------------------------------------------------

async function main(): Promise<number> {
  const keptDir = process.env.ELB_IMAGE_STORE || undefined;
  let store: Store | undefined;
  let made: Made | undefined;
  let built: Built | undefined;
  const bases: Base[] = [];
  let cleaning: Promise<void> | undefined;
  const summary: string[] = [];
  let httpsResult = "not checked: no image was built";

  const cleanup = () =>
    (cleaning ??= (async () => {
      out("\ncleanup");
      await stopAll().catch((e) => out(`  stopping the test's own processes: ${e}`));
      if (!made || !store) return;
      const s = store;
      await check(`every container, volume and image this run made is removed${s.kept ? ` (base images kept in ${s.dir})` : ""}`, async () => {
        const problems = await made!.cleanup();
        problems.push(...(await made!.afterCleanup()));
        assert(!problems.length, problems.join("\n"));
        if (s.kept) return `kept: ${bases.map((b) => b.ref).join(", ")}`;
        const err = removeStore(s);
        assert(!err, err ?? "");
        return `store ${s.dir} removed, base images with it`;
      }).catch(() => undefined);
    })());

  // Ctrl-C reaches this process twice (from the terminal, and relayed by tsx): one cleanup,
  // later signals wait for it.
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      if (cleaning) return out(`image-test: ${sig}: still cleaning up`);
      out(`\nimage-test: ${sig}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const ready = await part("setup", async () => {
    await check("podman, runc and mmdebstrap from Debian", hostPackages);
    store = makeStore(keptDir);
    made = new Made(store);
    made.imagesBefore = await imageIds(store);
    note(`podman store ${store.dir}: vfs storage, runc, cgroupfs, k8s-file logs; ${store.kept ? "kept (ELB_IMAGE_STORE), base images with it" : "removed at the end, base images with it"}`);
    const log = (s: string) => out(`        ${s}`);
    for (const make of [slimBase, nodeBase]) {
      await check(`base image ${make === slimBase ? "debian:bookworm-slim" : "node:20-bookworm"}`, async () => {
        const base = await make(store!, log);
        bases.push(base);
        if (store!.kept) made!.keepImages.add(base.id);
        return `${base.made ? `made in ${(base.ms / 1000).toFixed(1)} s` : "found in the store"}: ${base.what}`;
      });
    }
    note("node:20-bookworm is not the Docker Hub image: no registry is reachable here, and Debian bookworm's nodejs is 18,");
    note("so a bookworm base carries the Node that runs this test (and the host's CA bundle, for the TLS-intercepting proxy");
    note("in front of the npm registry). A real Docker engine uses the public node:20-bookworm and debian:bookworm-slim.");
  });

  if (ready) {
    await part("build", async () => {
      note("podman build (with vfs storage this can take minutes)");
      await check("podman build --isolation chroot (vfs) from the Dockerfile", async () => {
        built = await build(store!);
        const entry = built.config.Entrypoint?.join(" ");
        assert(entry === "bash /app/nginx/launch.sh", `entrypoint: ${entry}`);
        assert(built.config.StopSignal === "SIGTERM", `stop signal: ${built.config.StopSignal}`);
        assert(built.config.Env?.includes("ELB_LOG_STDOUT=1"), "ELB_LOG_STDOUT=1 missing from the image's environment");
        return `${(built.ms / 1000).toFixed(1)} s, ${mb(built.bytes)}`;
      });
    });
  }
  if (built) {
    summary.push(`build time: ${(built.ms / 1000).toFixed(1)} s (podman build, vfs storage, chroot isolation, no layer cache)`);
    const base = await podman(store!, ["image", "inspect", "--format", "{{.Size}}", SLIM]);
    summary.push(`image size: ${mb(built.bytes)} (${built.bytes} bytes, of which the debian:bookworm-slim stand-in: ${mb(Number(base.stdout.trim()))})`);
    await part("with ETCD, ELBNAME and STATSD (an etcd on 127.0.0.1 started by the test)", () => withExternalEtcd(made!));
    await part("without ETCD: the embedded etcd, its data in a volume", () => withEmbeddedEtcd(made!));
    await part("HTTPS listener", async () => {
      httpsResult = await httpsListener(built!, made!);
    });
  }
  await cleanup();

  out("\nsummary");
  for (const b of bases) out(`  base ${b.ref}: ${b.made ? "made by this run" : "found in the store"} (${b.what})`);
  if (store) out(`  base images: ${store.kept ? `kept in ${store.dir} for the next run (ELB_IMAGE_STORE)` : "removed with the run's store (set ELB_IMAGE_STORE to keep them)"}`);
  for (const s of summary) out(`  ${s}`);
  if (!built) out("  build time, image size: no image was built");
  out(`  HTTPS listener (443, ELB_TLS_LISTEN): ${httpsResult}`);
  out(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    console.log(`${passed} passed, ${failed + 1} failed`);
    process.exit(1);
  },
);
