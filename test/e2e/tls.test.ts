// The HTTPS listener end to end: certificates made now (a test CA; an exact, a wildcard and a
// default certificate) put through the admin API; the certificate each SNI name gets (openssl
// s_client -servername), HTTP/2 by ALPN (curl --http2, node:http2), the same routing as the
// HTTP listener with X-Forwarded-Proto: https, TLS 1.2+ and strong ciphers only, session
// resumption across workers, every invalid certificate refused with nothing written, GET
// without keys, status listing certificates about to expire, and rotation under steady HTTPS
// load with no failed request and no reload.
import http2 from "node:http2";
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Ca, Elb, Etcd, HOST, makeCa, makeCert, opensslView, run, sleep, startBackend, startElb, startEtcd, stopAll, tmpDir, waitFor } from "./harness";
import { join } from "node:path";

let etcd: Etcd;
let elb: Elb;
let backend: Backend;
let ca: Ca;
const certs: Record<string, { cert: string; key: string }> = {};

/** The certificate the listener shows for `sni` (undefined: none; the handshake failed). */
async function served(sni: string | undefined, extra: string[] = []): Promise<{ fingerprint?: string; out: string }> {
  const args = ["s_client", "-connect", `${HOST}:${elb.tlsPort}`, ...(sni ? ["-servername", sni] : ["-noservername"]), ...extra];
  const r = await run("openssl", args, { input: "", timeoutMs: 10000 });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/.exec(r.stdout)?.[0];
  return { fingerprint: pem ? opensslView(pem).fingerprint : undefined, out: r.stdout + r.stderr };
}

const fp = (name: string) => opensslView(certs[name].cert).fingerprint;

function httpsGet(host: string, path = "/", agent?: https.Agent): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = https.request({ host: HOST, port: elb.tlsPort, path, servername: host, headers: { Host: host }, ca: ca.cert, agent: agent ?? false, timeout: 10000 }, (r) => {
      let body = "";
      r.on("data", (b) => (body += b));
      r.on("end", () => res({ status: r.statusCode ?? 0, body }));
      r.on("error", rej);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", rej);
    req.end();
  });
}

async function etcdState(): Promise<string> {
  return JSON.stringify(await etcd.getPrefix("/ELB/certs/"));
}

beforeAll(async () => {
  etcd = await startEtcd();
  backend = await startBackend("A");
  elb = await startElb({ etcd: etcd.endpoint, tls: true, workers: 2 });
  await elb.waitLoaded();
  ca = makeCa();
  for (const [name, names] of [["exact.test", ["exact.test"]], ["wild", ["*.wild.test"]], ["default", ["fallback.test"]]] as const) {
    const c = makeCert(ca, { names: [...names], chain: true });
    certs[name] = { cert: c.cert, key: c.key };
  }
  expect((await elb.api("PUT", "cert", certs)).json).toEqual({ msg: "OK" });
  expect((await elb.api("PUT", "upstream", { up: { [backend.addr]: "" } })).status).toBe(200);
  const rules = { init: "b", rules: { b: { type: "backend", args: { servername: "up" } } } };
  expect((await elb.api("PUT", "domain", { "exact.test": rules, "a.wild.test": rules })).status).toBe(200);
});

afterAll(stopAll);

describe("routing by scheme (the scheme rule of routing v2)", () => {
  it("the same rule set sees https on this listener and http on the other", async () => {
    const respond = (body: string) => ({ type: "respond", args: { status: 200, body } });
    const rs = { init: "s", rules: { s: { type: "scheme", args: { scheme: "https", succ: "tls", fail: "plain" } }, tls: respond("https"), plain: respond("http") } };
    expect((await elb.api("PUT", "domain", { "scheme.exact.test": rs, "exact.test": rs })).status).toBe(200);
    expect((await httpsGet("exact.test")).body).toBe("https");
    expect((await elb.request({ path: "/", headers: { Host: "exact.test" } })).body).toBe("http");
    const rules = { init: "b", rules: { b: { type: "backend", args: { servername: "up" } } } };
    expect((await elb.api("PUT", "domain", { "exact.test": rules })).status).toBe(200);
    expect((await elb.api("DELETE", "domain", ["scheme.exact.test"])).status).toBe(200);
  });
});

describe("the certificate of each handshake, by SNI", () => {
  it("an exact name gets its certificate", async () => {
    expect((await served("exact.test")).fingerprint).toBe(fp("exact.test"));
    expect((await served("EXACT.test")).fingerprint).toBe(fp("exact.test"));
  });

  it("a name under a wildcard gets the wildcard certificate; deeper names and the parent do not", async () => {
    expect((await served("a.wild.test")).fingerprint).toBe(fp("wild"));
    expect((await served("x.a.wild.test")).fingerprint).toBe(fp("default"));
    expect((await served("wild.test")).fingerprint).toBe(fp("default"));
  });

  it("any other name, and no SNI at all, get the certificate named default", async () => {
    expect((await served("other.test")).fingerprint).toBe(fp("default"));
    expect((await served(undefined)).fingerprint).toBe(fp("default"));
  });

  it("an exact certificate beats a wildcard covering the same name", async () => {
    const c = makeCert(ca, { names: ["b.wild.test"] });
    expect((await elb.api("PUT", "cert", { "b.wild.test": { cert: c.cert, key: c.key } })).status).toBe(200);
    expect((await served("b.wild.test")).fingerprint).toBe(opensslView(c.cert).fingerprint);
    expect((await served("c.wild.test")).fingerprint).toBe(fp("wild"));
    expect((await elb.api("DELETE", "cert", ["b.wild.test"])).json).toEqual({ msg: "OK" });
    expect((await served("b.wild.test")).fingerprint).toBe(fp("wild"));
  });

  it("no match and no default: the handshake fails with an alert, and no certificate is shown", async () => {
    expect((await elb.api("DELETE", "cert", ["default"])).status).toBe(200);
    const r = await served("other.test");
    expect(r.fingerprint).toBeUndefined();
    expect(r.out).toMatch(/alert/);
    expect((await served("exact.test")).fingerprint).toBe(fp("exact.test"));
    expect((await elb.api("PUT", "cert", { default: certs["default"] })).status).toBe(200);
    expect((await served("other.test")).fingerprint).toBe(fp("default"));
  });
});

describe("HTTP over TLS", () => {
  it("curl --http2 negotiates HTTP/2 and is routed like the HTTP listener, with X-Forwarded-Proto: https", async () => {
    const r = await run("curl", ["-sS", "--http2", "--cacert", ca.certFile, "--resolve", `exact.test:${elb.tlsPort}:${HOST}`, `https://exact.test:${elb.tlsPort}/p?q=1`, "-w", "\n%{http_version}"]);
    expect(r.code, r.stderr).toBe(0);
    const [body, version] = r.stdout.split("\n");
    expect(version).toBe("2");
    const seen = JSON.parse(body);
    expect(seen).toMatchObject({ backend: "A", url: "/p?q=1" });
    expect(seen.headers["x-forwarded-proto"]).toBe("https");
    const plain = await elb.request({ path: "/p?q=1", headers: { Host: "exact.test" } });
    expect(plain.json.url).toBe("/p?q=1");
    expect(plain.json.headers["x-forwarded-proto"]).toBe("http");
  });

  it("HTTP/1.1 when the client offers only it (curl --http1.1), and node:http2 with several streams on one connection", async () => {
    const r = await run("curl", ["-sS", "--http1.1", "--cacert", ca.certFile, "--resolve", `a.wild.test:${elb.tlsPort}:${HOST}`, `https://a.wild.test:${elb.tlsPort}/one`, "-o", "/dev/null", "-w", "%{http_version} %{http_code}"]);
    expect(r.stdout).toBe("1.1 200");
    const session = http2.connect(`https://a.wild.test:${elb.tlsPort}`, { ca: ca.cert, host: HOST, servername: "a.wild.test", lookup: (_h: string, _o: unknown, cb: (e: null, a: string, f: number) => void) => cb(null, HOST, 4) } as any);
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((res, rej) => {
        const s = session.request({ ":path": path, ":authority": "a.wild.test" });
        let body = "";
        let status = 0;
        s.on("response", (h) => (status = Number(h[":status"])));
        s.on("data", (b) => (body += b));
        s.on("end", () => res({ status, body }));
        s.on("error", rej);
      });
    const answers = await Promise.all([1, 2, 3, 4].map((i) => get(`/h2/${i}`)));
    session.close();
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers.map((a) => JSON.parse(a.body).path).sort()).toEqual(["/h2/1", "/h2/2", "/h2/3", "/h2/4"]);
    expect(session.alpnProtocol).toBe("h2");
  });

  it("TLS 1.0 and 1.1 are refused, and so are ciphers without forward secrecy", async () => {
    for (const flag of ["-tls1", "-tls1_1"]) {
      const r = await served("exact.test", [flag, "-cipher", "DEFAULT@SECLEVEL=0"]);
      expect(r.fingerprint, flag).toBeUndefined();
    }
    expect((await served("exact.test", ["-tls1_2", "-cipher", "AES128-SHA"])).fingerprint).toBeUndefined();
    expect((await served("exact.test", ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"])).fingerprint).toBe(fp("exact.test"));
    expect((await served("exact.test", ["-tls1_3"])).out).toContain("TLSv1.3");
  });

  it("sessions resume, whichever worker takes the next connection (TLS 1.2 session ids and tickets)", async () => {
    const dir = tmpDir("sess");
    for (const [what, extra] of [["ticket", []], ["session id", ["-no_ticket"]]] as const) {
      const file = join(dir, `${what.replace(" ", "-")}.pem`);
      const first = await served("exact.test", ["-tls1_2", ...extra, "-sess_out", file]);
      expect(first.out).toContain("New, TLSv1.2");
      // several connections: with 2 workers some land on the other one
      for (let i = 0; i < 6; i++) expect((await served("exact.test", ["-tls1_2", ...extra, "-sess_in", file])).out, what).toContain("Reused, TLSv1.2");
    }
  });
});

describe("certificates through the API", () => {
  it("GET answers names, dates, issuer and fingerprint, never a key", async () => {
    const r = await elb.api("GET", "cert");
    expect(r.body).not.toMatch(/PRIVATE KEY|BEGIN/);
    expect(r.json["exact.test"]).toEqual({
      names: ["exact.test"],
      not_before: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      not_after: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      issuer: "O=ELB tests, CN=ELB Test CA",
      fingerprint_sha256: fp("exact.test"),
    });
    expect(Object.keys(r.json).sort()).toEqual(["default", "exact.test", "wild"]);
  });

  const good = () => makeCert(ca, { names: ["new.test"] });
  const cases: [string, () => unknown, string][] = [
    ["a key that does not match", () => ({ cert: good().cert, key: good().key }), "/new.test/key"],
    ["garbage", () => ({ cert: "garbage", key: "garbage" }), "/new.test/cert"],
    ["an expired certificate", () => {
      const c = makeCert(ca, { names: ["new.test"], days: -1 });
      return { cert: c.cert, key: c.key };
    }, "/new.test/cert"],
    ["a chain without a leaf", () => ({ cert: ca.cert, key: ca.key }), "/new.test/cert"],
  ];
  for (const [what, value, path] of cases) {
    it(`refuses ${what} with 400, writing nothing, even beside a valid one`, async () => {
      const before = await etcdState();
      const ok = good();
      const r = await elb.api("PUT", "cert", { "new.test": value(), "also.test": { cert: ok.cert, key: ok.key } });
      expect(r.status).toBe(400);
      expect(r.json.errors.map((e: { path: string }) => e.path)).toContain(path);
      expect(await etcdState()).toBe(before);
      expect(Object.keys((await elb.api("GET", "cert")).json)).not.toContain("also.test");
    });
  }

  it("a value written by hand that is invalid is skipped and listed, the last valid one keeps serving", async () => {
    const before = fp("exact.test");
    await etcd.putMany({ "/ELB/certs/exact.test": JSON.stringify({ cert: ca.cert, key: ca.key }) });
    await waitFor(async () => (await elb.api("GET", "status")).json.invalid_keys["/ELB/certs/exact.test"] !== undefined, 5000, "the invalid key listed");
    expect((await served("exact.test")).fingerprint).toBe(before);
    await etcd.putMany({ "/ELB/certs/exact.test": JSON.stringify(certs["exact.test"]) });
  });

  it("status lists the certificates that expire within 14 days", async () => {
    const soon = makeCert(ca, { names: ["soon.test"], days: 10 });
    expect((await elb.api("PUT", "cert", { "soon.test": { cert: soon.cert, key: soon.key } })).status).toBe(200);
    const s = (await elb.api("GET", "status")).json.certificates;
    expect(s.count).toBe(4);
    expect(Object.keys(s.expiring)).toEqual(["soon.test"]);
    expect(s.expiring["soon.test"]).toMatchObject({ names: ["soon.test"], days_left: 9 });
    expect((await elb.api("DELETE", "cert", ["soon.test"])).status).toBe(200);
  });
});

describe("rotation", () => {
  it("under steady HTTPS load (a new handshake per request): no failed request, no reload, new handshakes get the new certificate", async () => {
    const master = elb.masterPid();
    const workers = elb.workers();
    let stop = false;
    let done = 0;
    const failures: string[] = [];
    const fingerprints = new Set<string>();
    const client = async () => {
      while (!stop) {
        try {
          const r = await new Promise<{ status: number; fp: string }>((res, rej) => {
            const req = https.request({ host: HOST, port: elb.tlsPort, path: "/load", servername: "exact.test", headers: { Host: "exact.test" }, ca: ca.cert, agent: false, timeout: 10000 }, (resp) => {
              const peer = (resp.socket as import("node:tls").TLSSocket).getPeerCertificate();
              resp.resume();
              resp.on("end", () => res({ status: resp.statusCode ?? 0, fp: peer.fingerprint256 }));
            });
            req.on("error", rej);
            req.end();
          });
          if (r.status !== 200) failures.push(`status ${r.status}`);
          fingerprints.add(r.fp);
          done++;
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const clients = [client(), client(), client(), client()];
    const rotated: string[] = [];
    for (let i = 0; i < 5; i++) {
      await sleep(300);
      const c = makeCert(ca, { names: ["exact.test"], chain: true });
      expect((await elb.api("PUT", "cert", { "exact.test": { cert: c.cert, key: c.key } })).status).toBe(200);
      rotated.push(opensslView(c.cert).fingerprint);
      // the answer came once every worker applied it: the next handshake shows it
      expect((await served("exact.test")).fingerprint).toBe(rotated[i]);
    }
    await sleep(300);
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(done).toBeGreaterThan(50);
    for (const f of rotated) expect(fingerprints.has(f)).toBe(true);
    expect(elb.masterPid()).toBe(master);
    expect(elb.workers()).toEqual(workers);
    const last = await httpsGet("exact.test", "/after");
    expect(last.status).toBe(200);
  });
});

describe("the last known good configuration", () => {
  it("a node that starts while etcd is down serves its certificates from the snapshot", async () => {
    const fps = { wild: fp("wild"), def: fp("default") };
    const current = opensslView((JSON.parse((await etcd.getPrefix("/ELB/certs/exact.test"))[0][1]) as { cert: string }).cert).fingerprint;
    await sleep(1500); // the snapshot is written once changes are quiet for a second
    await etcd.stop();
    await elb.restart();
    const st = (await elb.api("GET", "status")).json;
    expect(st.etcd).not.toBe("connected");
    expect(st.certificates.count).toBe(3);
    expect((await served("exact.test")).fingerprint).toBe(current);
    expect((await served("a.wild.test")).fingerprint).toBe(fps.wild);
    expect((await served("other.test")).fingerprint).toBe(fps.def);
  });
});

