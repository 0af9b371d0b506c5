// What validation needs from the runtime it runs in: decoding and encoding JSON text, checking
// a regex with the engine that will run it, reading X.509 certificates and private keys, and
// the time. Each runtime installs its own once: the engine (config/json.ts: cjson, PCRE,
// OpenSSL through the FFI in tls/x509.ts), elbctl and the Node tests (admin-cli/src/host.ts:
// JSON, JavaScript's RegExp standing in for PCRE, node:crypto).

/** Checks a regex (caseless: matched ignoring case); returns the engine's error, if any. */
export type RegexCheck = (this: void, pattern: string, caseless: boolean) => string | undefined;

export interface Decoded {
  value: unknown;
  /** set when the text is not JSON */
  error: string | undefined;
}

/**
 * One certificate as the runtime's X.509 library reads it. Texts are as OpenSSL prints them,
 * so that both runtimes give the same: dates as ASN1_TIME_print ("Dec  2 16:53:13 2026 GMT"),
 * names as X509_NAME_print_ex with one entry per line (RFC 2253 escapes, short field names, in
 * the certificate's order), the SHA-256 fingerprint as colon-separated upper-case hex.
 */
export interface X509Info {
  /** the DNS names of the subjectAltName extension, as written */
  dnsNames: string[];
  /** the subject's common name; undefined when it has none */
  commonName: string | undefined;
  notBefore: string;
  notAfter: string;
  issuer: string;
  fingerprint: string;
  /** a CA certificate (X509_check_ca == 1): not a leaf */
  ca: boolean;
}

export interface Host {
  decodeJson(this: void, text: string): Decoded;
  encodeJson(this: void, value: unknown): string;
  checkRegex: RegexCheck;
  /** One PEM certificate block; a string is why it cannot be read. */
  readCertificate(this: void, pem: string): X509Info | string;
  /** Why the PEM private key cannot be used with the PEM certificate (unreadable, or not its key); undefined when it can. */
  checkKey(this: void, certPem: string, keyPem: string): string | undefined;
  /** True when the certificate `issuerPem` issued `subjectPem` (names and key identifiers agree). */
  issued(this: void, issuerPem: string, subjectPem: string): boolean;
  /** seconds since the epoch */
  now(this: void): number;
}

function missing(): never {
  throw "core/host.ts: no host installed (useHost)";
}

let host: Host = { decodeJson: missing, encodeJson: missing, checkRegex: missing, readCertificate: missing, checkKey: missing, issued: missing, now: missing };

export function useHost(h: Host): void {
  host = h;
}

export function decodeJson(text: string): Decoded {
  return host.decodeJson(text);
}

export function encodeJson(value: unknown): string {
  return host.encodeJson(value);
}

export function checkRegex(pattern: string, caseless: boolean): string | undefined {
  return host.checkRegex(pattern, caseless);
}

export function readCertificate(pem: string): X509Info | string {
  return host.readCertificate(pem);
}

export function checkKey(certPem: string, keyPem: string): string | undefined {
  return host.checkKey(certPem, keyPem);
}

export function issued(issuerPem: string, subjectPem: string): boolean {
  return host.issued(issuerPem, subjectPem);
}

export function now(): number {
  return host.now();
}
