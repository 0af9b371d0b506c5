// ssl_certificate_by_lua, on each new TLS handshake of the HTTPS listener (a resumed session
// keeps its certificate): the SNI name (lowercased) -> the certificate covering it exactly,
// else the wildcard one of its parent (*.example.com for a.example.com), else the one named
// "default". No certificate: the handshake fails with an alert, so no other site's certificate
// is ever shown. A certificate is parsed into OpenSSL objects at its first handshake in this
// worker and kept until it changes (config/certs.ts replaces the entry). Plain Lua.
import * as ssl from "ngx.ssl";
import { Cert, certFor, certs } from "../config/view";

function find(sni: string | undefined): Cert | undefined {
  if (sni !== undefined) {
    const name = string.lower(sni);
    const exact = certFor.get(name);
    if (exact !== undefined) return exact;
    const [dot] = string.find(name, ".", 1, true);
    if (dot !== undefined) {
      const wild = certFor.get("*" + string.sub(name, dot));
      if (wild !== undefined) return wild;
    }
  }
  return certs.get("default");
}

/** The certificate's OpenSSL objects, parsed once; false when its PEM cannot be used. */
function parsed(cert: Cert): boolean {
  if (cert.chain !== undefined) return true;
  const [chain, err] = ssl.parse_pem_cert(cert.certPem);
  const [key, kerr] = ssl.parse_pem_priv_key(cert.keyPem);
  if (chain === undefined || key === undefined) {
    ngx.log(ngx.ERR, "certificate ", cert.name, " cannot be used: ", err ?? kerr);
    return false;
  }
  cert.chain = chain;
  cert.key = key;
  return true;
}

export function run(): void {
  const [sni] = ssl.server_name();
  const cert = find(sni);
  if (cert === undefined) {
    ngx.log(ngx.INFO, "TLS handshake refused: no certificate for ", sni ?? "(no SNI)", " and none named default");
    return ngx.exit(ngx.ERROR);
  }
  if (!parsed(cert)) return ngx.exit(ngx.ERROR);
  ssl.clear_certs();
  const [ok, err] = ssl.set_cert(cert.chain);
  if (ok) {
    const [kok, kerr] = ssl.set_priv_key(cert.key);
    if (kok) return;
    ngx.log(ngx.ERR, "certificate ", cert.name, ": ", kerr);
  } else {
    ngx.log(ngx.ERR, "certificate ", cert.name, ": ", err);
  }
  return ngx.exit(ngx.ERROR);
}
