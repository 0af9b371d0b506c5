// Node's host for the engine's core (src-lua/core/host.ts): JSON, JavaScript's regex engine
// standing in for PCRE, and node:crypto's X.509 (OpenSSL underneath, printing what the
// engine's FFI prints). The regex engines agree on ordinary patterns; PCRE-only syntax such as
// (?i) is refused here but accepted by the engine, which checks again with PCRE when it
// applies a change. Importing this module installs it.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { useHost, type RegexCheck, type X509Info } from "../../src-lua/core/host";

export const jsRegexCheck: RegexCheck = (pattern, caseless) => {
  try {
    new RegExp(pattern, caseless ? "i" : "");
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** "DNS:a.example, DNS:*.b.example, IP Address:10.0.0.1" -> the DNS names. */
function dnsNames(san: string | undefined): string[] {
  if (!san) return [];
  const out: string[] = [];
  for (const part of san.split(", ")) if (part.startsWith("DNS:")) out.push(part.substring(4));
  return out;
}

function commonName(subject: string): string | undefined {
  const cn = subject.split("\n").find((l) => l.startsWith("CN="));
  return cn?.substring(3);
}

export function readCertificate(pem: string): X509Info | string {
  try {
    const x = new X509Certificate(pem);
    return { dnsNames: dnsNames(x.subjectAltName), commonName: commonName(x.subject), notBefore: x.validFrom, notAfter: x.validTo, issuer: x.issuer, fingerprint: x.fingerprint256, ca: x.ca };
  } catch (e) {
    return message(e);
  }
}

export function checkKey(certPem: string, keyPem: string): string | undefined {
  let key;
  try {
    key = createPrivateKey({ key: keyPem, format: "pem", passphrase: "" });
  } catch (e) {
    return `the private key cannot be read: ${message(e)}`;
  }
  return new X509Certificate(certPem).checkPrivateKey(key) ? undefined : "the private key is not the certificate's (they do not match)";
}

useHost({
  readCertificate,
  checkKey,
  issued: (issuerPem, subjectPem) => new X509Certificate(subjectPem).checkIssued(new X509Certificate(issuerPem)),
  now: () => Date.now() / 1000,
  decodeJson: (text) => {
    try {
      return { value: JSON.parse(text), error: undefined };
    } catch (e) {
      return { value: undefined, error: (e as Error).message };
    }
  },
  encodeJson: (value) => JSON.stringify(value),
  checkRegex: jsRegexCheck,
});
