// The certificates' apply step (config/apply.ts): a certificate is read once per change, and
// the names it covers point at it in certFor, where the handshake looks (phases/
// ssl_certificate.ts). When several certificates cover one name, the one stored under that
// very name wins, else the one that expires last (then the smaller name). Only the names of
// the changed certificate are looked at again: the cost does not grow with the number of
// certificates.
import { describeValid, isoTime } from "../core/certs";
import { decode } from "./json";
import { Cert, certFor, certs } from "./view";

/** name covered -> certificate name -> certificate */
const covering = new LuaTable<string, LuaTable<string, Cert>>();

function better(a: Cert, b: Cert, covered: string): boolean {
  if ((a.name === covered) !== (b.name === covered)) return a.name === covered;
  if (a.summary.notAfter !== b.summary.notAfter) return a.summary.notAfter > b.summary.notAfter;
  return a.name < b.name;
}

function choose(covered: string): void {
  const set = covering.get(covered);
  let best: Cert | undefined = undefined;
  if (set !== undefined) for (const [, c] of set) if (best === undefined || better(c, best, covered)) best = c;
  if (best === undefined) {
    covering.delete(covered);
    certFor.delete(covered);
  } else {
    certFor.set(covered, best);
  }
}

export function applyCert(name: string, value: string | undefined): void {
  const old = certs.get(name);
  if (old !== undefined) {
    certs.delete(name);
    for (const n of old.summary.names) {
      covering.get(n)?.delete(name);
      choose(n);
    }
  }
  if (value === undefined) return;
  // admitted by the node's store (core/certs.ts readCertificates): only its leaf is read again
  const [doc] = decode(value);
  const summary = describeValid(doc["cert"]);
  if (summary === undefined || summary.notAfter <= ngx.now()) {
    ngx.log(ngx.ERR, `certificate ${name} is not served: ${summary === undefined ? "its chain cannot be read" : `it expired on ${isoTime(summary.notAfter)}`}`);
    return;
  }
  const cert: Cert = { name, raw: value, summary, certPem: doc["cert"], keyPem: doc["key"], chain: undefined, key: undefined };
  certs.set(name, cert);
  for (const n of summary.names) {
    let set = covering.get(n);
    if (set === undefined) {
      set = new LuaTable();
      covering.set(n, set);
    }
    set.set(name, cert);
    choose(n);
  }
}

/** How many certificates this worker serves, and those that expire within `days` days (or have). */
export function certStatus(days: number): object {
  const now = ngx.now();
  let count = 0;
  const expiring: { [name: string]: object } = {};
  for (const [name, c] of certs) {
    count += 1;
    const left = c.summary.notAfter - now;
    if (left < days * 86400) expiring[name] = { names: c.summary.names, not_after: isoTime(c.summary.notAfter), days_left: Math.floor(left / 86400) };
  }
  return { count, expiring_within_days: days, expiring };
}
