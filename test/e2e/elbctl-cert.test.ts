// elbctl cert against a real etcd and ELB: set (validated with the engine's rules through
// node:crypto; every invalid case refused with nothing written), ls and get (expiry, never a
// key) agreeing field for field with the engine's GET /__erulb__/cert (OpenSSL through the
// FFI), the node serving what elbctl wrote, rm; certificates stay out of apply/export files.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ca, Elb, Etcd, HOST, REPO_ROOT, makeCa, makeCert, opensslView, run, startElb, startEtcd, stopAll, tmpDir, waitFor } from "./harness";

const BIN = join(REPO_ROOT, "admin-cli/bin/elbctl.mjs");
let etcd: Etcd;
let elb: Elb;
let ca: Ca;
let dir: string;

async function elbctl(...args: string[]) {
  return run(process.execPath, [BIN, ...args], { env: { ...process.env, ETCD: etcd.endpoint, ELBNAME: "ELB", NO_COLOR: "1" }, timeoutMs: 30000 });
}

function files(name: string, cert: string, key: string): [string, string] {
  writeFileSync(join(dir, `${name}.pem`), cert);
  writeFileSync(join(dir, `${name}.key`), key);
  return [join(dir, `${name}.pem`), join(dir, `${name}.key`)];
}

const stored = async () => JSON.stringify(await etcd.getPrefix("/ELB/certs/"));

beforeAll(async () => {
  etcd = await startEtcd();
  elb = await startElb({ etcd: etcd.endpoint, tls: true });
  await elb.waitLoaded();
  ca = makeCa();
  dir = tmpDir("elbctl-cert");
});

afterAll(stopAll);

describe("elbctl cert", () => {
  it("set writes a valid certificate, which the node then serves", async () => {
    const c = makeCert(ca, { names: ["site.test", "www.site.test"], chain: true, rsa: true });
    const [cf, kf] = files("site", c.cert, c.key);
    const r = await elbctl("cert", "set", "site.test", "--cert", cf, "--key", kf);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^set \/ELB\/certs\/site\.test: site\.test,www\.site\.test until \d{4}-/);
    const fp = opensslView(c.cert).fingerprint;
    await waitFor(async () => {
      const s = await run("openssl", ["s_client", "-connect", `${HOST}:${elb.tlsPort}`, "-servername", "www.site.test"], { input: "" });
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/.exec(s.stdout)?.[0];
      return pem !== undefined && opensslView(pem).fingerprint === fp;
    }, 5000, "the node serving it");
  });

  it("ls and get show what GET /__erulb__/cert shows (the two runtimes agree), with days left, never a key", async () => {
    const soon = makeCert(ca, { names: ["soon.test"], days: 5 });
    const [cf, kf] = files("soon", soon.cert, soon.key);
    expect((await elbctl("cert", "set", "soon.test", "--cert", cf, "--key", kf)).code).toBe(0);
    const api = await waitFor(async () => {
      const j = (await elb.api("GET", "cert")).json;
      return j["soon.test"] ? j : undefined;
    }, 5000, "the node applying it");
    const ls = await elbctl("cert", "ls", "--json");
    expect(ls.stdout).not.toMatch(/PRIVATE|BEGIN/);
    const cli = JSON.parse(ls.stdout);
    for (const name of ["site.test", "soon.test"]) {
      const { days_left, ...rest } = cli[name];
      expect(rest).toEqual(api[name]);
      expect(days_left).toBe(name === "soon.test" ? 4 : 29);
    }
    const human = (await elbctl("cert", "ls")).stdout;
    expect(human).toMatch(/^NAME\s+NAMES\s+NOT AFTER\s+DAYS LEFT\s+ISSUER/);
    expect(human).toMatch(/soon\.test\s+soon\.test\s+\S+\s+4\s+O=ELB tests, CN=ELB Test CA/);
    const get = await elbctl("cert", "get", "site.test", "--json");
    expect(get.stdout).not.toMatch(/PRIVATE|BEGIN/);
    expect(JSON.parse(get.stdout)).toMatchObject({ ...api["site.test"], days_left: 29 });
    expect((await elb.api("GET", "status")).json.certificates.expiring).toEqual({ "soon.test": { names: ["soon.test"], not_after: api["soon.test"].not_after, days_left: 4 } });
  });

  const invalid: [string, () => [string, string], RegExp][] = [
    ["a key that does not match", () => files("mismatch", makeCert(ca, { names: ["x.test"] }).cert, makeCert(ca, { names: ["x.test"] }).key), /\/key: the private key is not the certificate's/],
    ["garbage", () => files("garbage", "garbage", "garbage"), /\/cert: no PEM certificate/],
    ["an expired certificate", () => {
      const c = makeCert(ca, { names: ["x.test"], days: -1 });
      return files("expired", c.cert, c.key);
    }, /\/cert: the certificate expired on/],
    ["a chain without a leaf", () => files("noleaf", ca.cert, ca.key), /\/cert: the chain has no leaf/],
  ];
  for (const [what, make, error] of invalid) {
    it(`set refuses ${what}, writing nothing`, async () => {
      const before = await stored();
      const [cf, kf] = make();
      const r = await elbctl("cert", "set", "x.test", "--cert", cf, "--key", kf);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/invalid certificate for \/ELB\/certs\/x\.test, nothing written/);
      expect(r.stderr).toMatch(error);
      expect(await stored()).toBe(before);
    });
  }

  it("ls flags a value written by hand that the engine refuses", async () => {
    await etcd.putMany({ "/ELB/certs/bad.test": "{not json" });
    const cli = JSON.parse((await elbctl("cert", "ls", "--json")).stdout);
    expect(cli["bad.test"].invalid).toMatch(/invalid JSON/);
    expect((await elbctl("cert", "ls")).stdout).toMatch(/bad\.test\s+INVALID/);
  });

  it("export leaves certificates out of the file", async () => {
    const r = await elbctl("export", "--format", "json");
    expect(r.code, r.stderr).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout)).sort()).toEqual(["domains", "policies", "upstreams"]);
    expect(r.stdout).not.toMatch(/PRIVATE/);
  });

  it("rm removes it; get then fails", async () => {
    expect((await elbctl("cert", "rm", "soon.test")).code).toBe(0);
    expect(await stored()).not.toContain("soon.test");
    const r = await elbctl("cert", "get", "soon.test");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no certificate soon\.test/);
    await waitFor(async () => (await elb.api("GET", "cert")).json["soon.test"] === undefined, 5000, "the node dropping it");
  });
});
