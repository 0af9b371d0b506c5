// Certificates (src-lua/core/certs.ts, kinds/certs.ts) under Node's host (node:crypto), with
// certificates made now by the openssl command; spec/unit/certs_spec.lua checks the engine's
// host (OpenSSL through the FFI) against the same openssl output.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import "../admin-cli/src/host";
import { isoTime, parseCertTime, publicView, readCertificates } from "../src-lua/core/certs";
import { readCertificate } from "../admin-cli/src/host";
import { certs, checkStored } from "../src-lua/core/kinds/index";
import { Problem } from "../src-lua/core/problems";
import { makeCa, makeCert, opensslView, stopAll } from "./harness/index.mjs";

afterAll(stopAll);

const ca = makeCa();
const other = makeCa("Other CA");
const read = (value: unknown) => {
  const problems: Problem[] = [];
  const s = readCertificates(value, "", problems);
  return { s, problems };
};

describe("dates", () => {
  it("reads OpenSSL's time text and writes ISO 8601", () => {
    expect(parseCertTime("Dec  2 16:53:13 2026 GMT")).toBe(Date.UTC(2026, 11, 2, 16, 53, 13) / 1000);
    expect(parseCertTime("Feb 29 00:00:00 2024 GMT")).toBe(Date.UTC(2024, 1, 29) / 1000);
    expect(parseCertTime("Jan  1 00:00:00.5 1970 GMT")).toBe(0);
    expect(parseCertTime("Dec 2 16:53:13 2026")).toBeUndefined();
    expect(parseCertTime("Foo  2 16:53:13 2026 GMT")).toBeUndefined();
    for (const t of [0, 951782400, 1709164800, 1798822393, 4102444799]) expect(isoTime(t)).toBe(new Date(t * 1000).toISOString().replace(".000", ""));
  });
});

describe("Node's host agrees with the openssl command", () => {
  const cases: [string, { names?: string[]; cn?: string; rsa?: boolean }][] = [["EC, SANs", { names: ["a.test", "*.b.test"] }], ["RSA, CN only", { cn: "only-cn.test", rsa: true }]];
  for (const [what, o] of cases) {
    it(what, () => {
      const c = makeCert(ca, o);
      const info = readCertificate(c.cert);
      if (typeof info === "string") throw new Error(info);
      const want = opensslView(c.cert);
      expect(info.fingerprint).toBe(want.fingerprint);
      expect(info.notBefore).toBe(want.notBefore);
      expect(info.notAfter).toBe(want.notAfter);
      expect(info.dnsNames).toEqual(want.dnsNames);
      expect(info.issuer).toBe("O=ELB tests\nCN=ELB Test CA");
      expect(info.ca).toBe(false);
    });
  }
});

describe("a certificate value", () => {
  it("a leaf with its chain: names, dates, issuer, fingerprint", () => {
    const c = makeCert(ca, { names: ["Exact.test", "*.wild.test"], chain: true, days: 10 });
    const { s, problems } = read({ cert: c.cert, key: c.key });
    expect(problems).toEqual([]);
    expect(s!.names).toEqual(["exact.test", "*.wild.test"]);
    expect(s!.issuer).toBe("O=ELB tests, CN=ELB Test CA");
    expect(s!.notAfter - s!.notBefore).toBe(10 * 86400);
    expect(publicView(s!)).toEqual({ names: s!.names, not_before: isoTime(s!.notBefore), not_after: isoTime(s!.notAfter), issuer: s!.issuer, fingerprint_sha256: opensslView(c.cert).fingerprint });
    expect(JSON.stringify(publicView(s!))).not.toContain("PRIVATE");
  });

  it("the CN when there is no subjectAltName", () => {
    const c = makeCert(ca, { cn: "cn.test" });
    expect(read({ cert: c.cert, key: c.key }).s!.names).toEqual(["cn.test"]);
  });

  const refused: [string, () => unknown, string, string][] = [
    ["a key that is not the certificate's", () => ({ cert: makeCert(ca, { names: ["a.test"] }).cert, key: makeCert(ca, { names: ["a.test"] }).key }), "/key", "do not match"],
    ["garbage for the certificate", () => ({ cert: "not a certificate", key: makeCert(ca, { names: ["a.test"] }).key }), "/cert", "no PEM certificate"],
    ["a broken PEM block", () => ({ cert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", key: "x" }), "/cert", "certificate 1 cannot be read"],
    ["an unclosed PEM block", () => ({ cert: "-----BEGIN CERTIFICATE-----\nAAAA\n", key: "x" }), "/cert", "has no"],
    ["garbage for the key", () => ({ cert: makeCert(ca, { names: ["a.test"] }).cert, key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }), "/key", "cannot be read"],
    ["an expired certificate", () => {
      const c = makeCert(ca, { names: ["old.test"], days: -1 });
      return { cert: c.cert, key: c.key };
    }, "/cert", "expired on"],
    ["a chain without a leaf (a CA certificate first)", () => ({ cert: ca.cert, key: ca.key }), "/cert", "has no leaf"],
    ["a chain out of order", () => {
      const c = makeCert(ca, { names: ["a.test"] });
      return { cert: c.cert + other.cert, key: c.key };
    }, "/cert", "did not issue certificate 1"],
    ["unknown fields", () => ({ cert: "", key: "", chain: "" }), "/chain", "unknown certificate field"],
    ["not an object", () => "PEM", "", "must be an object"],
  ];
  for (const [what, value, path, error] of refused) {
    it(`refuses ${what}`, () => {
      const { s, problems } = read(value());
      expect(s).toBeUndefined();
      expect(problems.find((p) => p.path === path)?.error ?? JSON.stringify(problems)).toContain(error);
    });
  }

  it("is checked where it is stored: /ELB/certs/<name>", () => {
    const c = makeCert(ca, { names: ["a.test"] });
    expect(checkStored("ELB", "/ELB/certs/a.test", JSON.stringify({ cert: c.cert, key: c.key }))).toEqual([]);
    expect(checkStored("ELB", "/ELB/certs/Bad Name", JSON.stringify({ cert: c.cert, key: c.key }))[0].error).toContain("certificate name");
    expect(checkStored("ELB", "/ELB/certs/a.test", "{")[0].error).toContain("invalid JSON");
  });

  it("is stored with the chain first, whatever the order it came in", () => {
    expect(certs.encode({ key: "K\n", cert: "C\n" })).toBe('{"cert":"C\\n","key":"K\\n"}');
  });

  it("ACME challenges: /ELB/acme/challenges/<token> = <token>.<thumbprint>", () => {
    expect(checkStored("ELB", "/ELB/acme/challenges/abc_-1", "abc_-1.Zm9v")).toEqual([]);
    expect(checkStored("ELB", "/ELB/acme/challenges/abc", "no dot")[0].error).toContain("key authorization");
    expect(checkStored("ELB", "/ELB/acme/challenges/a+b", "a.b")[0].error).toContain("base64url");
    expect(checkStored("ELB", "/ELB/acme/domains/a.test", "")).toEqual([]);
  });
});

describe("a self-signed certificate", () => {
  it("that names its host is its own leaf (openssl req -x509 marks it CA:TRUE)", () => {
    const dir = mkdtempSync(join(tmpdir(), "elb-selfsigned-"));
    try {
      execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-subj", "/CN=dev.test", "-days", "30", "-addext", "subjectAltName=DNS:dev.test"], { cwd: dir, stdio: "ignore" });
      const { s, problems } = read({ cert: readFileSync(join(dir, "c.pem"), "utf8"), key: readFileSync(join(dir, "k.pem"), "utf8") });
      expect(problems).toEqual([]);
      expect(s!.names).toEqual(["dev.test"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
