// The ETCD setting, read the same way by the engine and by elbctl: "host:port",
// "http://host:port" or "https://host:port", several separated by commas, whitespace around
// them ignored, all with the same scheme. "localhost" becomes 127.0.0.1: nginx's cosockets
// resolve names through its resolver directive, not /etc/hosts. Checked by hand, not by
// regex, so that JS and Lua agree.
import { parseWhole } from "./numbers";

export interface Endpoint {
  host: string;
  port: number;
  /** https:// */
  tls: boolean;
  /** the host name as written (checked against the server's certificate); undefined for an IP address */
  serverName?: string;
}

function isIpv4(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || c === 46)) return false;
  }
  return true;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function trim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s.charCodeAt(a))) a++;
  while (b > a && isSpace(s.charCodeAt(b - 1))) b--;
  return s.substring(a, b);
}

function isNameChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 45 || c === 46 || c === 95;
}

function isIpv6Char(c: number): boolean {
  return (c >= 48 && c <= 58) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 46;
}

function allOf(s: string, ok: (this: void, c: number) => boolean): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!ok(s.charCodeAt(i))) return false;
  return true;
}

/** One entry of the list: the endpoint, or an error message naming the entry. */
export function parseEndpoint(entry: string): Endpoint | string {
  const bad = `invalid etcd endpoint "${entry}": `;
  let rest = entry;
  let tls = false;
  const sep = entry.indexOf("://");
  if (sep >= 0) {
    const scheme = entry.substring(0, sep).toLowerCase();
    if (scheme !== "http" && scheme !== "https") return bad + "only http:// and https:// are supported";
    tls = scheme === "https";
    rest = entry.substring(sep + 3);
  }
  if (rest.endsWith("/")) rest = rest.substring(0, rest.length - 1);
  if (rest.indexOf("/") >= 0) return bad + "a path is not allowed";
  let colon = -1;
  for (let i = 0; i < rest.length; i++) if (rest.charCodeAt(i) === 58) colon = i;
  const expected = bad + "expected host:port, like 127.0.0.1:2379";
  if (colon < 0) return expected;
  let host = rest.substring(0, colon);
  const portText = rest.substring(colon + 1);
  let ip = true;
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.substring(1, host.length - 1);
    if (!allOf(host, isIpv6Char)) return expected;
  } else if (!allOf(host, isNameChar)) {
    return expected;
  } else {
    ip = isIpv4(host);
  }
  const port = parseWhole(portText, 999999);
  if (port === undefined) return expected;
  if (port < 1 || port > 65535) return bad + "port out of range";
  const serverName = ip ? undefined : host.toLowerCase();
  if (serverName === "localhost") host = "127.0.0.1";
  return { host, port, tls, serverName };
}

/** Every endpoint of the setting, or an error message. */
export function parseEndpoints(spec: string | undefined): Endpoint[] | string {
  if (spec === undefined) return "no etcd endpoints given";
  const out: Endpoint[] = [];
  let start = 0;
  for (let i = 0; i <= spec.length; i++) {
    if (i < spec.length && spec.charCodeAt(i) !== 44) continue;
    const entry = trim(spec.substring(start, i));
    start = i + 1;
    if (entry === "") continue;
    const ep = parseEndpoint(entry);
    if (typeof ep === "string") return ep;
    out.push(ep);
  }
  if (out.length === 0) return `no etcd endpoints in "${spec}"`;
  for (const ep of out) if (ep.tls !== out[0].tls) return `etcd endpoints "${spec}": use one scheme for all of them (http:// or https://)`;
  return out;
}

/** "host:port", with brackets around an IPv6 address. */
export function endpointName(ep: Endpoint): string {
  return ep.host.indexOf(":") >= 0 ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

/** The endpoint as a URL, with the host name as written: "https://etcd1.internal:2379". */
export function endpointUrl(ep: Endpoint): string {
  const host = ep.serverName ?? (ep.host.indexOf(":") >= 0 ? `[${ep.host}]` : ep.host);
  return `${ep.tls ? "https" : "http"}://${host}:${ep.port}`;
}
