// TLS certificates as ELB keeps them: {"cert": "<PEM chain, leaf first>", "key": "<PEM key>"}.
// readCertificates says everything wrong with one (JSON pointers under `at`) or what it is:
// the names it covers (subjectAltName DNS names, else the subject's CN, lowercased), its
// validity, issuer and fingerprint. The X.509 parsing is the runtime's (core/host.ts); the
// rules are here, so the engine and elbctl refuse and describe certificates alike.
import { checkUnknown } from "./checks";
import { checkKey, issued, now, readCertificate, X509Info } from "./host";
import { isObject } from "./json-shape";
import { describe, pointer, Problem } from "./problems";

export interface CertSummary {
  names: string[];
  /** seconds since the epoch */
  notBefore: number;
  notAfter: number;
  issuer: string;
  fingerprint: string;
}

const BEGIN = "-----BEGIN CERTIFICATE-----";
const END = "-----END CERTIFICATE-----";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The PEM CERTIFICATE blocks of `text`, in order; a string when a block is not closed. */
export function certificateBlocks(text: string): string[] | string {
  const blocks: string[] = [];
  let from = 0;
  for (;;) {
    const b = text.indexOf(BEGIN, from);
    if (b < 0) return blocks;
    const e = text.indexOf(END, b + BEGIN.length);
    if (e < 0) return `certificate ${blocks.length + 1} has no "${END}" line`;
    blocks.push(`${text.substring(b, e + END.length)}\n`);
    from = e + END.length;
  }
}

function daysFromCivil(y: number, m: number, d: number): number {
  // Howard Hinnant's days_from_civil, in whole-number arithmetic that JS and Lua share
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = m > 2 ? m - 3 : m + 9;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function whole(s: string): number | undefined {
  if (s.length === 0) return undefined;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** "Dec  2 16:53:13 2026 GMT" (OpenSSL's ASN1_TIME_print) -> seconds since the epoch. */
export function parseCertTime(text: string): number | undefined {
  const parts: string[] = [];
  for (const p of text.split(" ")) if (p.length > 0) parts.push(p);
  if (parts.length !== 5 || parts[4] !== "GMT") return undefined;
  let month = 0;
  for (let i = 0; i < MONTHS.length; i++) if (MONTHS[i] === parts[0]) month = i + 1;
  const day = whole(parts[1]);
  const year = whole(parts[3]);
  const hms = parts[2].split(".")[0].split(":");
  if (month === 0 || day === undefined || year === undefined || hms.length !== 3) return undefined;
  const h = whole(hms[0]);
  const mi = whole(hms[1]);
  const se = whole(hms[2]);
  if (h === undefined || mi === undefined || se === undefined) return undefined;
  return daysFromCivil(year, month, day) * 86400 + h * 3600 + mi * 60 + se;
}

function pad(n: number, width: number): string {
  let s = `${n}`;
  while (s.length < width) s = `0${s}`;
  return s;
}

/** Seconds since the epoch -> "2026-12-02T16:53:13Z". */
export function isoTime(t: number): string {
  const secs = Math.floor(t);
  const days = Math.floor(secs / 86400);
  const rest = secs - days * 86400;
  // civil_from_days
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const hh = Math.floor(rest / 3600);
  const mm = Math.floor((rest - hh * 3600) / 60);
  const ss = rest - hh * 3600 - mm * 60;
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}Z`;
}

/** A name a certificate may cover, as SNI matches it: a host name, or *.<host name>. */
function checkCoveredName(n: string): string | undefined {
  const host = n.substring(0, 2) === "*." ? n.substring(2) : n;
  if (host.length === 0 || host.length > 253) return "not a host name";
  let prev = 46;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || c === 45 || c === 95 || c === 46;
    if (!ok || (c === 46 && prev === 46)) return "not a host name";
    prev = c;
  }
  return prev === 46 ? "not a host name" : undefined;
}

function namesOf(leaf: X509Info): string[] {
  const names: string[] = [];
  const seen: { [n: string]: boolean } = {};
  const from = leaf.dnsNames.length > 0 ? leaf.dnsNames : leaf.commonName !== undefined ? [leaf.commonName] : [];
  for (const raw of from) {
    const n = raw.toLowerCase();
    if (seen[n] || checkCoveredName(n) !== undefined) continue;
    seen[n] = true;
    names.push(n);
  }
  return names;
}

/** The issuer on one line: "C=US, O=Let's Encrypt, CN=R3". */
function oneLine(name: string): string {
  const parts: string[] = [];
  for (const p of name.split("\n")) if (p.length > 0) parts.push(p);
  return parts.join(", ");
}

/**
 * The certificate `value` ({"cert", "key"}) described, or undefined with what is wrong added to
 * `problems`: the PEM chain must parse and start with the leaf (a CA certificate that names no
 * host in its subjectAltName is not one; a self-signed one that does, as `openssl req -x509`
 * makes for a test site, is its own leaf), each
 * certificate must be issued by the next, the key must be the leaf's, the leaf must name at
 * least one host, and it must not have expired.
 */
export function readCertificates(value: unknown, at: string, problems: Problem[]): CertSummary | undefined {
  if (!isObject(value)) {
    problems.push({ path: at, error: `a certificate must be an object {"cert": "<PEM chain>", "key": "<PEM private key>"}, got ${describe(value)}` });
    return undefined;
  }
  const before = problems.length;
  checkUnknown(value, ["cert", "key"], at, "certificate", problems);
  const cert = value["cert"];
  const key = value["key"];
  if (typeof cert !== "string") problems.push({ path: pointer(at, "cert"), error: `must be the PEM certificate chain (a string), got ${describe(cert)}` });
  if (typeof key !== "string") problems.push({ path: pointer(at, "key"), error: `must be the PEM private key (a string), got ${describe(key)}` });
  if (problems.length > before) return undefined;
  const cat = pointer(at, "cert");
  const blocks = certificateBlocks(cert as string);
  if (typeof blocks === "string") {
    problems.push({ path: cat, error: blocks });
    return undefined;
  }
  if (blocks.length === 0) {
    problems.push({ path: cat, error: `no PEM certificate ("${BEGIN}") in it` });
    return undefined;
  }
  const infos: X509Info[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const info = readCertificate(blocks[i]);
    if (typeof info === "string") {
      problems.push({ path: cat, error: `certificate ${i + 1} cannot be read: ${info}` });
      return undefined;
    }
    infos.push(info);
  }
  const leaf = infos[0];
  if (leaf.ca && leaf.dnsNames.length === 0) {
    problems.push({ path: cat, error: "the chain has no leaf: its first certificate is a CA certificate that names no host; put the site's own certificate first, then its intermediates" });
    return undefined;
  }
  for (let i = 0; i + 1 < blocks.length; i++) {
    if (!issued(blocks[i + 1], blocks[i])) {
      problems.push({ path: cat, error: `certificate ${i + 2} did not issue certificate ${i + 1}: the chain must go from the leaf up, each certificate followed by its issuer` });
    }
  }
  const kerr = checkKey(blocks[0], key as string);
  if (kerr !== undefined) problems.push({ path: pointer(at, "key"), error: kerr });
  const names = namesOf(leaf);
  if (names.length === 0) problems.push({ path: cat, error: "the certificate names no host (no DNS subjectAltName and no usable common name)" });
  const notBefore = parseCertTime(leaf.notBefore);
  const notAfter = parseCertTime(leaf.notAfter);
  if (notBefore === undefined || notAfter === undefined) {
    problems.push({ path: cat, error: `unreadable validity dates "${leaf.notBefore}" .. "${leaf.notAfter}"` });
  } else if (notAfter <= now()) {
    problems.push({ path: cat, error: `the certificate expired on ${isoTime(notAfter)}` });
  }
  if (problems.length > before) return undefined;
  return summaryOf(leaf, names, notBefore!, notAfter!);
}

function summaryOf(leaf: X509Info, names: string[], notBefore: number, notAfter: number): CertSummary {
  return { names, notBefore, notAfter, issuer: oneLine(leaf.issuer), fingerprint: leaf.fingerprint };
}

/**
 * What a certificate already validated by readCertificates is (its leaf read again, nothing
 * checked): the engine's workers apply values the node's store admitted this way, at a fraction
 * of the cost (reading the key is most of it). Undefined when the chain cannot be read.
 */
export function describeValid(certPem: string): CertSummary | undefined {
  const blocks = certificateBlocks(certPem);
  if (typeof blocks === "string" || blocks.length === 0) return undefined;
  const leaf = readCertificate(blocks[0]);
  if (typeof leaf === "string") return undefined;
  const notBefore = parseCertTime(leaf.notBefore);
  const notAfter = parseCertTime(leaf.notAfter);
  if (notBefore === undefined || notAfter === undefined) return undefined;
  return summaryOf(leaf, namesOf(leaf), notBefore, notAfter);
}

/** What GET /__erulb__/cert and elbctl show of a certificate: never its key. */
export function publicView(s: CertSummary): object {
  return { names: s.names, not_before: isoTime(s.notBefore), not_after: isoTime(s.notAfter), issuer: s.issuer, fingerprint_sha256: s.fingerprint };
}

/** A certificate's name under /$ELBNAME/certs/: "default", a domain, or *.domain, lowercase. */
export function checkCertName(n: string): string | undefined {
  if (n.length === 0) return "certificate name must not be empty";
  if (n.length > 255) return "certificate name is longer than 255 characters";
  return checkCoveredName(n) === undefined ? undefined : "certificate name may hold only lowercase letters, digits, '.', '-', '_' (and a leading '*.')";
}
