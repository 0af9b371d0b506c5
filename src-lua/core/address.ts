// "host:port" as used in upstream keys and literal backends: an IPv4 address, a host name or
// a bracketed IPv6 address, then a port 1..65535.

import { parseWhole } from "./numbers";

export interface HostPort {
  host: string;
  port: number;
  /** true when host is an IP address (no name resolution needed) */
  isIp: boolean;
}

function isIPv4(h: string): boolean {
  const parts = h.split(".");
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (p.length > 3 || parseWhole(p, 255) === undefined) return false;
  }
  return true;
}

function isHostName(h: string): boolean {
  if (h.length === 0 || h.length > 253) return false;
  for (const label of h.split(".")) {
    if (label.length === 0 || label.length > 63) return false;
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      const ok = (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 45 || c === 95;
      if (!ok) return false;
    }
  }
  return true;
}

function isIPv6(h: string): boolean {
  if (h.length < 2 || h.indexOf(":") < 0) return false;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    const ok = (c >= 48 && c <= 58) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 46;
    if (!ok) return false;
  }
  return true;
}

/** The parsed address, or an error message. (core/ runs under Node too: no LuaMultiReturn here.) */
export function parseHostPort(s: string): HostPort | string {
  let colon = -1;
  for (let i = s.length - 1; i >= 0 && colon < 0; i--) {
    if (s.charCodeAt(i) === 58) colon = i;
  }
  if (colon < 0) return "must be host:port";
  let host = s.substring(0, colon);
  const port = parseWhole(s.substring(colon + 1), 65535);
  if (port === undefined || port === 0) return "port must be a number from 1 to 65535";
  if (host.startsWith("[")) {
    if (!host.endsWith("]") || !isIPv6(host.substring(1, host.length - 1))) {
      return "invalid IPv6 address";
    }
    host = host.substring(1, host.length - 1);
    return { host, port, isIp: true };
  }
  if (host.indexOf(":") >= 0) return "an IPv6 address must be in brackets, as [::1]:80";
  if (isIPv4(host)) return { host, port, isIp: true };
  if (!isHostName(host)) return "invalid host name";
  return { host, port, isIp: false };
}
