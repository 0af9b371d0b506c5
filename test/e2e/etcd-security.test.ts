// etcd as production runs it: https:// with a client certificate (etcd --client-cert-auth), and
// etcd's own authentication (user and password, the token renewed when it expires), for the
// engine and for elbctl. Certificates are made here with openssl, for 127.0.0.1 and localhost.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etcdctl, freePortPair, HOST, REPO_ROOT, run, sleep, start, startBackend, startElb, stop, stopAll, tmpDir, waitFor, type Backend, type Elb } from "./harness";

let dir: string;
let backend: Backend;

const rules = (up: string) => ({ init: "b", rules: { b: { type: "backend", args: { servername: up } } } });

async function openssl(...args: string[]): Promise<void> {
  const r = await run("openssl", args, { cwd: dir });
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

/** A CA (its certificates: next). */
async function makeCa(name: string): Promise<void> {
  await openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${name} CA`, "-keyout", `${name}-ca.key`, "-out", `${name}-ca.crt`);
}

async function makeCert(ca: string, name: string, server: boolean): Promise<void> {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, server ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n" : "extendedKeyUsage=clientAuth\n");
  await openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`);
  await openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}-ca.crt`, "-CAkey", `${ca}-ca.key`, "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", `${name}.crt`);
}

const f = (name: string) => join(dir, name);

/** One etcd member; `client` are extra flags (TLS, auth token TTL). */
interface SecureEtcd {
  endpoint: string;
  ctl: (...a: string[]) => Promise<string>;
  /** stops and starts the member again (simple auth tokens live in its memory: all become invalid) */
  restart: (...healthArgs: string[]) => Promise<void>;
}

async function etcdWith(scheme: "http" | "https", client: string[], ctl: string[]): Promise<SecureEtcd> {
  const port = await freePortPair();
  const url = `${scheme}://${HOST}:${port}`;
  const data = tmpDir("etcd-sec");
  const args = [
    "--name", "sec", "--data-dir", join(data, "d"),
    "--listen-client-urls", url, "--advertise-client-urls", url,
    "--listen-peer-urls", `http://${HOST}:${port + 1}`, "--initial-advertise-peer-urls", `http://${HOST}:${port + 1}`,
    "--initial-cluster", `sec=http://${HOST}:${port + 1}`, "--log-level", "error", "--logger", "zap", ...client,
  ];
  const endpoint = `${url}`;
  const ctlRun = async (...a: string[]) => (await etcdctl(endpoint, ...ctl, ...a)).stdout;
  let proc = start("etcd", "etcd", args);
  const healthy = (...more: string[]) =>
    waitFor(async () => {
      if (!proc.alive()) throw new Error(`etcd exited: ${proc.output()}`);
      return ctlRun(...more, "endpoint", "health").then(() => true, () => false);
    }, 15000, "etcd with TLS/auth");
  await healthy();
  return {
    endpoint,
    ctl: ctlRun,
    async restart(...healthArgs: string[]) {
      await stop(proc);
      proc = start("etcd", "etcd", args);
      await healthy(...healthArgs);
    },
  };
}

function elbctl(env: Record<string, string>, ...args: string[]) {
  return run(process.execPath, [join(REPO_ROOT, "admin-cli/bin/elbctl.mjs"), ...args], { env: { ...process.env, ...env }, timeoutMs: 30000 });
}

async function routes(elb: Elb, host: string): Promise<boolean> {
  return (await elb.request({ path: "/", headers: { Host: host } })).json?.backend === "S";
}

beforeAll(async () => {
  dir = tmpDir("certs");
  await makeCa("good");
  await makeCa("other");
  await makeCert("good", "server", true);
  await makeCert("good", "client", false);
  await makeCert("other", "stranger", false);
  backend = await startBackend("S");
}, 60_000);

afterAll(stopAll);

describe("etcd over https with client certificates", () => {
  let etcd: SecureEtcd;
  beforeAll(async () => {
    etcd = await etcdWith("https", ["--cert-file", f("server.crt"), "--key-file", f("server.key"), "--trusted-ca-file", f("good-ca.crt"), "--client-cert-auth"], [
      "--cacert", f("good-ca.crt"), "--cert", f("client.crt"), "--key", f("client.key"),
    ]);
  });

  it("the engine loads, watches and writes over TLS, checking etcd's certificate and name", async () => {
    const port = etcd.endpoint.split(":").pop();
    const elb = await startElb({ etcd: `https://localhost:${port}`, elbName: "TLS", env: { ETCD_CACERT: f("good-ca.crt"), ETCD_CERT: f("client.crt"), ETCD_KEY: f("client.key") } });
    await elb.waitLoaded(15000).catch(async (e) => {
      throw new Error(`${e}: ${JSON.stringify((await elb.api("GET", "status")).json)}\n${elb.errorLog().slice(-2000)}`);
    });
    expect((await elb.api("PUT", "upstream", { up1: { [backend.addr]: "" } })).status).toBe(200);
    expect((await elb.api("PUT", "domain", { "api.test": rules("up1") })).status).toBe(200);
    expect(await routes(elb, "api.test")).toBe(true);
    await etcd.ctl("put", "/TLS/rules/hand.test", JSON.stringify(rules("up1")));
    await waitFor(() => routes(elb, "hand.test"), 5000, "a change made with etcdctl over TLS");
    expect((await elb.api("GET", "status")).json.etcd).toBe("connected");
    await elb.stop();
  });

  it("refuses an etcd whose certificate another CA signed; etcd refuses it without a client certificate", async () => {
    const port = etcd.endpoint.split(":").pop();
    const wrongCa = await startElb({ etcd: `https://localhost:${port}`, elbName: "TLS", env: { ETCD_CACERT: f("other-ca.crt"), ETCD_CERT: f("client.crt"), ETCD_KEY: f("client.key") } });
    let said = "";
    await waitFor(async () => /TLS handshake with .*: .*(verify|certificate)/.test((said = (await wrongCa.api("GET", "status")).json.etcd)), 10000, "the handshake to fail").catch((e) => {
      throw new Error(`${e}: ${said}`);
    });
    expect((await wrongCa.api("GET", "status")).json.loaded).toBe(false);
    await wrongCa.stop();
    const noCert = await startElb({ etcd: `https://localhost:${port}`, elbName: "TLS", env: { ETCD_CACERT: f("good-ca.crt") } });
    await waitFor(async () => /etcd unreachable|TLS|handshake|closed/.test((await noCert.api("GET", "status")).json.etcd), 10000, "etcd to refuse a client without a certificate");
    expect((await noCert.api("GET", "status")).json.loaded).toBe(false);
    await noCert.stop();
  });

  it("a malformed setting stops the node at start with a message", async () => {
    await expect(startElb({ etcd: "127.0.0.1:1", env: { ETCD_CERT: f("client.crt") }, timeoutMs: 5000 })).rejects.toThrow(/ETCD_CERT and ETCD_KEY go together/);
    await expect(startElb({ etcd: "127.0.0.1:1", env: { ETCD_CACERT: f("good-ca.crt") }, timeoutMs: 5000 })).rejects.toThrow(/need https:\/\/ endpoints/);
  });

  it("elbctl talks to it with --etcd-cacert/--etcd-cert/--etcd-key or the same variables", async () => {
    const port = etcd.endpoint.split(":").pop();
    const env = { ELBNAME: "TLS", ETCD: `https://localhost:${port}` };
    const set = await elbctl(env, "upstream", "set", "cli", "127.0.0.1:9", "--etcd-cacert", f("good-ca.crt"), "--etcd-cert", f("client.crt"), "--etcd-key", f("client.key"));
    expect(set.code, set.stderr).toBe(0);
    const ls = await elbctl({ ...env, ETCD_CACERT: f("good-ca.crt"), ETCD_CERT: f("client.crt"), ETCD_KEY: f("client.key") }, "upstream", "ls", "--no-health", "--json");
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain("127.0.0.1:9");
    const refused = await elbctl({ ...env, ETCD_CACERT: f("good-ca.crt") }, "upstream", "ls", "--no-health", "--timeout", "2");
    expect(refused.code).toBe(3);
  });
});

describe("etcd with authentication", () => {
  let etcd: SecureEtcd;
  beforeAll(async () => {
    // simple tokens expire after 2 s without use: the engine must get a new one
    etcd = await etcdWith("http", ["--auth-token", "simple", "--auth-token-ttl", "2"], []);
    await etcd.ctl("user", "add", "root:rootpw");
    await etcd.ctl("user", "add", "elb:elbpw");
    await etcd.ctl("role", "add", "elb");
    await etcd.ctl("role", "grant-permission", "elb", "--prefix=true", "readwrite", "/AUTH/");
    await etcd.ctl("user", "grant-role", "elb", "elb");
    await etcd.ctl("auth", "enable");
  });

  it("the engine authenticates, and gets a new token when the old one expired", async () => {
    const elb = await startElb({ etcd: etcd.endpoint.replace("http://", ""), elbName: "AUTH", env: { ETCD_USER: "elb", ETCD_PASSWORD: "elbpw" } });
    await elb.waitLoaded(15000);
    expect((await elb.api("PUT", "upstream", { up1: { [backend.addr]: "" } })).status).toBe(200);
    await sleep(3500);
    // a restarted member forgets every token it gave: the next request is refused, then renewed
    await etcd.restart("--user", "root:rootpw");
    const put = await elb.api("PUT", "domain", { "auth.test": rules("up1") });
    expect(put.status, put.body).toBe(200);
    expect(await routes(elb, "auth.test")).toBe(true);
    await etcdctl(etcd.endpoint, "--user", "root:rootpw", "put", "/AUTH/rules/late.test", JSON.stringify(rules("up1")));
    await waitFor(() => routes(elb, "late.test"), 5000, "a change made after the token expired");
    await elb.stop();
  }, 60_000);

  it("a wrong password: nothing loads, the status says why", async () => {
    const elb = await startElb({ etcd: etcd.endpoint.replace("http://", ""), elbName: "AUTH", env: { ETCD_USER: "elb", ETCD_PASSWORD: "wrong" } });
    await waitFor(async () => /authentication as elb failed/.test((await elb.api("GET", "status")).json.etcd), 10000, "the status to say why");
    expect((await elb.api("GET", "status")).json.loaded).toBe(false);
    await elb.stop();
  });

  it("elbctl authenticates with ETCD_USER/ETCD_PASSWORD", async () => {
    const env = { ELBNAME: "AUTH", ETCD: etcd.endpoint, ETCD_USER: "elb", ETCD_PASSWORD: "elbpw" };
    const set = await elbctl(env, "upstream", "set", "cli", "127.0.0.1:9");
    expect(set.code, set.stderr).toBe(0);
    const bad = await elbctl({ ...env, ETCD_PASSWORD: "nope" }, "upstream", "ls", "--no-health");
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/refused elbctl|authentication/i);
  });
});
