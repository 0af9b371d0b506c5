// HTTPS upstreams (policy "tls"): ELB speaks TLS to the servers with SNI; with "verify": true
// the server's chain is checked against ELB_UPSTREAM_CA (a test CA here) and its name against
// server_name (default: the request's host). A server whose certificate fails either check
// gets no request: 502. Without verification any certificate is taken.
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Ca, Elb, Etcd, HOST, makeCa, makeCert, serve, startBackend, startElb, startEtcd, stopAll, waitFor } from "./harness";

let etcd: Etcd;
let elb: Elb;
let trusted: Ca;
let untrusted: Ca;
let plain: Backend;
const closers: (() => Promise<void>)[] = [];

interface TlsBackend {
  addr: string;
  /** the SNI name of each request's connection, and whether the connection was new */
  seen: { sni: string | undefined; proto: string | undefined; path: string | undefined }[];
}

async function startTlsBackend(ca: Ca, names: string[]): Promise<TlsBackend> {
  const c = makeCert(ca, { names, chain: true });
  const b: TlsBackend = { addr: "", seen: [] };
  const server = https.createServer({ cert: c.cert, key: c.key }, (req, res) => {
    b.seen.push({ sni: (req.socket as TLSSocket & { servername?: string | false }).servername || undefined, proto: req.headers["x-forwarded-proto"] as string | undefined, path: req.url });
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ tls: true, host: req.headers.host, path: req.url }));
  });
  const l = await serve(server);
  closers.push(l.close);
  b.addr = `${HOST}:${l.port}`;
  return b;
}

const rules = (up: string) => ({ init: "b", rules: { b: { type: "backend", args: { servername: up } } } });
const get = (host: string, path = "/") => elb.request({ path, headers: { Host: host } });

let good: TlsBackend;
let foreign: TlsBackend;

beforeAll(async () => {
  trusted = makeCa("Upstream CA");
  untrusted = makeCa("Someone else");
  etcd = await startEtcd();
  elb = await startElb({ etcd: etcd.endpoint, env: { ELB_UPSTREAM_CA: trusted.certFile } });
  await elb.waitLoaded();
  good = await startTlsBackend(trusted, ["backend.internal", "app.test"]);
  foreign = await startTlsBackend(untrusted, ["backend.internal"]);
  plain = await startBackend("plain");
  const ups = { off: good, sni: good, named: good, wrongname: good, foreign, foreignoff: foreign };
  const upstreams: Record<string, Record<string, string>> = { plain: { [plain.addr]: "" } };
  for (const [n, b] of Object.entries(ups)) upstreams[n] = { [b.addr]: "" };
  expect((await elb.api("PUT", "upstream", upstreams)).status).toBe(200);
  const policies = {
    off: { tls: { enabled: true } },
    sni: { tls: { enabled: true, verify: true } },
    named: { tls: { enabled: true, verify: true, server_name: "backend.internal" } },
    wrongname: { tls: { enabled: true, verify: true, server_name: "other.internal" } },
    foreign: { tls: { enabled: true, verify: true, server_name: "backend.internal" } },
    foreignoff: { tls: { enabled: true, verify: false } },
  };
  expect((await elb.api("PUT", "policy", policies)).status).toBe(200);
  const domains: Record<string, unknown> = { "plain.test": rules("plain"), "app.test": rules("sni") };
  for (const n of Object.keys(policies)) if (n !== "sni") domains[`${n}.test`] = rules(n);
  expect((await elb.api("PUT", "domain", domains)).status).toBe(200);
});

afterAll(async () => {
  await stopAll();
  for (const c of closers) await c();
});

describe("HTTPS upstreams", () => {
  it("without verification: TLS with the request's host as SNI, the path and headers as for HTTP", async () => {
    good.seen.length = 0;
    const r = await get("off.test", "/a?b=1");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ tls: true, host: "off.test", path: "/a?b=1" });
    expect(good.seen[0]).toEqual({ sni: "off.test", proto: "http", path: "/a?b=1" });
  });

  it("without verification a certificate from an unknown CA is taken", async () => {
    expect((await get("foreignoff.test")).json.tls).toBe(true);
  });

  it("verified against ELB_UPSTREAM_CA, the name being the request's host", async () => {
    good.seen.length = 0;
    const r = await get("app.test");
    expect(r.status).toBe(200);
    expect(good.seen[0].sni).toBe("app.test");
  });

  it("verified, with server_name as SNI and as the name checked", async () => {
    good.seen.length = 0;
    expect((await get("named.test")).status).toBe(200);
    expect(good.seen[0].sni).toBe("backend.internal");
  });

  it("verified requests never ride a connection opened for another name or without verification", async () => {
    good.seen.length = 0;
    for (const host of ["off.test", "app.test", "named.test", "app.test"]) expect((await get(host)).status).toBe(200);
    expect(good.seen.map((s) => s.sni)).toEqual(["off.test", "app.test", "backend.internal", "app.test"]);
  });

  it("a name the certificate does not cover: 502, the server gets no request", async () => {
    good.seen.length = 0;
    const r = await get("wrongname.test");
    expect(r.status).toBe(502);
    expect(good.seen).toEqual([]);
    expect(elb.errorLog()).toMatch(/upstream SSL certificate does not match "other.internal"/);
  });

  it("a certificate from a CA the node does not trust: 502", async () => {
    foreign.seen.length = 0;
    const r = await get("foreign.test");
    expect(r.status).toBe(502);
    expect(r.json.upstream).toBe("foreign");
    expect(foreign.seen).toEqual([]);
    expect(elb.errorLog()).toMatch(/upstream SSL certificate verify error/);
  });

  it("plain HTTP upstreams are untouched, and the policy's tls can be turned off live", async () => {
    expect((await get("plain.test")).json.backend).toBe("plain");
    expect((await elb.api("PUT", "policy", { foreignoff: { tls: { enabled: false } } })).status).toBe(200);
    // plain HTTP to a TLS server: no answer
    expect((await get("foreignoff.test")).status).toBe(502);
    expect((await elb.api("PUT", "policy", { foreignoff: { tls: { enabled: true } } })).status).toBe(200);
    expect((await get("foreignoff.test")).json.tls).toBe(true);
  });

  it("a backend rule's rewrite, request and response headers apply to HTTPS upstreams too (verified or not)", async () => {
    const backend = (up: string) => ({ init: "p", rules: { p: { type: "path", args: { pattern: "^/in/(.*)$", regex: true, succ: "b" } }, b: { type: "backend", args: { servername: up, rewrite: "/out/$1", "X-Env": "blue", set_response_headers: { "X-Served-By": "elb" } } } } });
    expect((await elb.api("PUT", "domain", { "hdr-off.test": backend("off"), "hdr-named.test": backend("named") })).status).toBe(200);
    for (const host of ["hdr-off.test", "hdr-named.test"]) {
      good.seen.length = 0;
      const r = await get(host, "/in/x?y=1");
      expect(r.status, host).toBe(200);
      expect(r.json.path).toBe("/out/x?y=1");
      expect(r.headers["x-served-by"]).toBe("elb");
      const sni = good.seen[0].sni;
      if (host === "hdr-named.test") expect(sni).toBe("backend.internal");
      // unverified TLS keeps connections alive per server address whatever their SNI name
      // (nginx.conf.tmpl): this request may ride the one the earlier request to "off" opened
      else expect(["hdr-off.test", "off.test"]).toContain(sni);
    }
  });

  it("active health checks of an HTTPS upstream speak TLS", async () => {
    good.seen.length = 0;
    expect((await elb.api("PUT", "policy", { named: { tls: { enabled: true, verify: true, server_name: "backend.internal" }, healthcheck: { type: "http", path: "/health", interval: 0.2 } } })).status).toBe(200);
    await waitFor(async () => good.seen.some((s) => s.sni === "backend.internal" && s.path === "/health"), 5000, "a TLS health check");
    const server = (await elb.api("GET", "upstream")).json.named[0];
    expect(server).toMatchObject({ state: "up", healthy: true });
    expect(server.checked_at).toBeGreaterThan(0);
  });

  it("refuses a CA per upstream, saying why", async () => {
    const r = await elb.api("PUT", "policy", { x: { tls: { enabled: true, ca: trusted.cert } } });
    expect(r.status).toBe(400);
    expect(r.json.errors[0]).toMatchObject({ path: "/x/tls/ca" });
    expect(r.json.errors[0].error).toContain("ELB_UPSTREAM_CA");
  });
});
