// @ts-check
// Certificates made at test time with the openssl command: a CA, leaves it signs (exact names,
// wildcards, any validity, expired), each with its key, as PEM texts and files.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpDir } from "./tmp.mjs";

/**
 * @typedef {object} Pem
 * @property {string} cert the certificate (a leaf: then its issuers when `chain` was asked)
 * @property {string} key its private key
 * @property {string} certFile
 * @property {string} keyFile
 */

/** @typedef {Pem & { dir: string, name: string }} Ca */

/** @param {string[]} args @param {string} cwd */
function openssl(args, cwd) {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

let serial = 0;

/** A self-signed CA (EC P-256), valid `days` days. @param {string} [name] @param {number} [days] @returns {Ca} */
export function makeCa(name = "ELB Test CA", days = 30) {
  const dir = tmpDir("ca");
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", `/O=ELB tests/CN=${name}`, "-days", String(days), "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  return { dir, name, cert: readFileSync(join(dir, "ca.pem"), "utf8"), key: readFileSync(join(dir, "ca.key"), "utf8"), certFile: join(dir, "ca.pem"), keyFile: join(dir, "ca.key") };
}

/**
 * A certificate signed by `ca`.
 * @param {Ca} ca
 * @param {{ names?: string[], ips?: string[], cn?: string, days?: number, rsa?: boolean, chain?: boolean, ca?: boolean }} o
 *   names: DNS subjectAltNames (none: only the CN); ips: IP subjectAltNames; days: validity (negative: expired); chain:
 *   the cert text is followed by the CA's; ca: the certificate is itself a CA (an intermediate)
 * @returns {Pem}
 */
export function makeCert(ca, o) {
  const id = `c${++serial}`;
  const dir = ca.dir;
  const cn = o.cn ?? o.names?.[0] ?? "leaf.test";
  const keyArgs = o.rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  openssl(["req", ...keyArgs, "-nodes", "-keyout", `${id}.key`, "-out", `${id}.csr`, "-subj", `/CN=${cn}`], dir);
  const ext = [o.ca ? "basicConstraints=critical,CA:TRUE" : "basicConstraints=CA:FALSE", "authorityKeyIdentifier=keyid", "subjectKeyIdentifier=hash"];
  const sans = [...(o.names ?? []).map((n) => `DNS:${n}`), ...(o.ips ?? []).map((ip) => `IP:${ip}`)];
  if (sans.length) ext.push(`subjectAltName=${sans.join(",")}`);
  writeFileSync(join(dir, `${id}.ext`), `${ext.join("\n")}\n`);
  openssl(["x509", "-req", "-in", `${id}.csr`, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-set_serial", String(Date.now() * 100 + serial), "-days", String(o.days ?? 30), "-extfile", `${id}.ext`, "-out", `${id}.pem`], dir);
  const leaf = readFileSync(join(dir, `${id}.pem`), "utf8");
  const cert = o.chain ? leaf + ca.cert : leaf;
  const certFile = join(dir, `${id}.chain.pem`);
  writeFileSync(certFile, cert);
  return { cert, key: readFileSync(join(dir, `${id}.key`), "utf8"), certFile, keyFile: join(dir, `${id}.key`) };
}

/**
 * What the openssl command says of a certificate (the first of `pem`), to compare with.
 * @param {string} pem
 */
export function opensslView(pem) {
  const dir = tmpDir("view");
  writeFileSync(join(dir, "c.pem"), pem);
  const out = openssl(["x509", "-in", "c.pem", "-noout", "-fingerprint", "-sha256", "-startdate", "-enddate", "-ext", "subjectAltName"], dir);
  const field = (/** @type {string} */ re) => new RegExp(re, "m").exec(out)?.[1] ?? "";
  const san = /X509v3 Subject Alternative Name:.*\n\s*(.*)/.exec(out)?.[1] ?? "";
  return {
    fingerprint: field("^sha256 Fingerprint=(.*)$"),
    notBefore: field("^notBefore=(.*)$"),
    notAfter: field("^notAfter=(.*)$"),
    dnsNames: san.split(", ").filter((s) => s.startsWith("DNS:")).map((s) => s.substring(4)),
  };
}
