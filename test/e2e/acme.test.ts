// ACME end to end: Debian's pebble (a real RFC 8555 CA) with pebble-challtestsrv as its DNS,
// validating HTTP-01 on an ELB node's HTTP port; two ELB nodes on one etcd; `elbctl acme`
// obtaining a certificate for a listed domain, both nodes serving it over HTTPS, a forced
// renewal validated through the other node, a failing domain retried with backoff and reported
// by `elbctl acme status`, and a standby taking over when the active process stops.
import { ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, HOST, Pebble, REPO_ROOT, freePort, opensslView, run, startBackend, startElb, startEtcd, startPebble, stopAll, waitFor } from "./harness";

const BIN = join(REPO_ROOT, "admin-cli/bin/elbctl.mjs");
let etcd: Etcd;
let a: Elb;
let b: Elb;
let backend: Backend;
let pebble: Pebble;
const children = new Set<ChildProcess>();

interface Running {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function acme(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, "acme", ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ETCD: etcd.endpoint, ELBNAME: "ELB", NO_COLOR: "1", NODE_EXTRA_CA_CERTS: pebble.caFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((res) => child.on("close", (code) => (children.delete(child), res(code))));
  return { child, out: () => out, exited };
}

async function elbctl(...args: string[]): Promise<string> {
  const r = await run(process.execPath, [BIN, ...args], { env: { ...process.env, ETCD: etcd.endpoint, ELBNAME: "ELB", NO_COLOR: "1" }, timeoutMs: 30000 });
  expect(r.code, `elbctl ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function storedCert(domain: string): Promise<{ cert: string; key: string } | undefined> {
  const kv = (await etcd.getPrefix(`/ELB/certs/${domain}`)).find(([k]) => k === `/ELB/certs/${domain}`);
  return kv ? JSON.parse(kv[1]) : undefined;
}

async function served(elb: Elb, sni: string): Promise<string | undefined> {
  const r = await run("openssl", ["s_client", "-connect", `${HOST}:${elb.tlsPort}`, "-servername", sni], { input: "", timeoutMs: 10000 });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/.exec(r.stdout)?.[0];
  return pem ? opensslView(pem).fingerprint : undefined;
}

async function node(id: string): Promise<Elb> {
  const port = await freePort();
  return startElb({ etcd: etcd.endpoint, port, tls: true, env: { ELB_NODE_ID: id, ELB_ADVERTISE: `${HOST}:${port}` } });
}

let first: Running;

beforeAll(async () => {
  etcd = await startEtcd();
  a = await node("a");
  b = await node("b");
  await a.waitLoaded();
  await b.waitLoaded();
  backend = await startBackend("app");
  pebble = await startPebble({ httpPort: a.port });
  expect((await a.api("PUT", "upstream", { app: { [backend.addr]: "" } })).status).toBe(200);
  expect((await a.api("PUT", "domain", { "app.test": { init: "b", rules: { b: { type: "backend", args: { servername: "app" } } } } })).status).toBe(200);
});

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await stopAll();
});

describe("elbctl acme against pebble", () => {
  it("obtains a certificate for a listed domain; both nodes serve it", async () => {
    await elbctl("acme", "add", "app.test");
    first = acme(["--directory", pebble.directory, "--email", "ops@app.test", "--check-every", "2", "--retry-min", "1", "--retry-max", "3", "--ttl", "3", "--id", "first"]);
    const stored = await waitFor(() => storedCert("app.test"), 60000, `a certificate for app.test (elbctl acme said:\n${first.out()})`);
    const leaf = opensslView(stored.cert);
    expect(leaf.dnsNames).toEqual(["app.test"]);
    for (const elb of [a, b]) await waitFor(async () => (await served(elb, "app.test")) === leaf.fingerprint, 5000, "the node serving the new certificate");
    const cert = (await b.api("GET", "cert")).json["app.test"];
    expect(cert.issuer).toMatch(/Pebble/);
    expect(cert.names).toEqual(["app.test"]);
    // HTTPS traffic is routed as usual with it
    const r = await run("curl", ["-sS", "-k", "--resolve", `app.test:${b.tlsPort}:${HOST}`, `https://app.test:${b.tlsPort}/hello`]);
    expect(JSON.parse(r.stdout).path).toBe("/hello");
    expect(first.out()).toMatch(/challenge served by 2 of 2 nodes/);
    // pebble validated through node a; the challenge is gone once done
    expect(a.accessLog()).toMatch(/GET \/\.well-known\/acme-challenge\/[\w-]+ HTTP\/1\.1" 200 .*Pebble/);
    expect(await etcd.getPrefix("/ELB/acme/challenges/")).toEqual([]);
  });

  it("elbctl acme status reports the domain valid and who leads", async () => {
    const s = JSON.parse(await elbctl("acme", "status", "--json"));
    expect(s.leader).toBe("first");
    const d = s.domains.find((x: { domain: string }) => x.domain === "app.test");
    expect(d).toMatchObject({ domain: "app.test", state: "valid", failures: 0, last_error: null, listed: true });
    expect(Date.parse(d.not_after)).toBeGreaterThan(Date.now() + 30 * 86400e3);
    expect(await elbctl("acme", "status")).toMatch(/app\.test\s+valid/);
  });

  it("a forced renewal is validated through the other node and replaces the certificate everywhere", async () => {
    const before = opensslView((await storedCert("app.test"))!.cert).fingerprint;
    await pebble.restart(b.port);
    await elbctl("acme", "renew", "app.test");
    const renewed = await waitFor(async () => {
      const c = await storedCert("app.test");
      return c && opensslView(c.cert).fingerprint !== before ? c : undefined;
    }, 60000, `the renewed certificate (elbctl acme said:\n${first.out()})`);
    const fp = opensslView(renewed.cert).fingerprint;
    for (const elb of [a, b]) await waitFor(async () => (await served(elb, "app.test")) === fp, 5000, "the node serving the renewed certificate");
    expect(b.accessLog()).toMatch(/GET \/\.well-known\/acme-challenge\/[\w-]+ HTTP\/1\.1" 200 .*Pebble/);
    expect(await etcd.getPrefix("/ELB/acme/renew/")).toEqual([]);
  });

  it("a domain the CA cannot validate fails, is retried with backoff and reported", async () => {
    // the CA's DNS sends fail.test where no ELB listens
    await pebble.resolve("fail.test", "127.0.0.2");
    await elbctl("acme", "add", "fail.test");
    const failed = await waitFor(async () => {
      const s = JSON.parse(await elbctl("acme", "status", "--json")).domains.find((x: { domain: string }) => x.domain === "fail.test");
      return s?.failures >= 2 ? s : undefined;
    }, 60000, `two failed attempts for fail.test (elbctl acme said:\n${first.out()})`);
    expect(failed.state).toMatch(/failed|pending/);
    expect(failed.last_error).toBeTruthy();
    expect(first.out()).toMatch(/fail\.test: failed \(1 in a row\).*next attempt at/);
    expect(first.out()).toMatch(/fail\.test: failed \(2 in a row\)/);
    expect(await storedCert("fail.test")).toBeUndefined();
    await elbctl("acme", "rm", "fail.test");
  });

  it("one process works, another stands by and takes over when it stops (and renews by time)", async () => {
    const before = opensslView((await storedCert("app.test"))!.cert).fingerprint;
    // renew 3650 days before expiry: every certificate pebble issues is due at once
    const second = acme(["--directory", pebble.directory, "--check-every", "3", "--ttl", "3", "--id", "second", "--renew-before", "3650"]);
    await waitFor(async () => /standing by: first leads/.test(second.out()), 10000, `the second process standing by:\n${second.out()}`);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    await waitFor(async () => /leading the ACME work/.test(second.out()), 10000, `the second process taking the lead:\n${second.out()}`);
    expect(JSON.parse(await elbctl("acme", "status", "--json")).leader).toBe("second");
    await waitFor(async () => opensslView((await storedCert("app.test"))!.cert).fingerprint !== before, 30000, `a renewal by time:\n${second.out()}`);
    expect(second.out()).toMatch(/app\.test: obtaining a certificate \(expires .*, within 3650 days\)/);
    expect(second.out()).toMatch(/renewed at most every 3 s/);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    expect(JSON.parse(await elbctl("acme", "status", "--json")).leader).toBeNull();
  });

  it("a token no one published is routed like any request", async () => {
    const r = await a.request({ path: "/.well-known/acme-challenge/unknown-token", headers: { Host: "app.test" } });
    expect(r.json).toMatchObject({ backend: "app", path: "/.well-known/acme-challenge/unknown-token" });
  });
});
