// Names an operator gives things: domains (matched against the lowercased Host) and upstreams
// (a path segment of an etcd key). Checked by hand, not by regex, so that JS and Lua agree.

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

const STAR = "* may only be the whole first label (*.example.com) or the whole name (*, the default domain)";

/**
 * An error message, or undefined when `d` can be a domain: an exact name (api.example.com), a
 * wildcard (*.example.com: one or more labels below example.com) or the default (*).
 */
export function checkDomain(d: string): string | undefined {
  if (d === "*") return undefined;
  if (d.length === 0) return "domain must not be empty";
  if (d.length > 253) return "domain is longer than 253 characters";
  let from = 0;
  if (d.charCodeAt(0) === 42 && d.length >= 2 && d.charCodeAt(1) === 46) {
    if (d.length === 2) return 'a wildcard needs a domain after "*."';
    from = 2;
  }
  let prev = 46; // as if after a dot: no leading dot
  for (let i = from; i < d.length; i++) {
    const c = d.charCodeAt(i);
    if (c >= 65 && c <= 90) return "domain must be lowercase (the Host header is matched lowercased)";
    if (c === 42) return STAR;
    if (c === 46) {
      if (prev === 46) return "domain has an empty label";
    } else if (!(isAlnum(c) || c === 45 || c === 95)) {
      return c === 58 ? "domain must not have a port (the Host is matched without it)" : `domain has an invalid character at position ${i + 1}`;
    }
    prev = c;
  }
  if (prev === 46) return "domain must not end with a dot";
  return undefined;
}

/** An error message, or undefined when `n` can be an upstream name. */
export function checkUpstreamName(n: string): string | undefined {
  if (n.length === 0) return "upstream name must not be empty";
  if (n.length > 200) return "upstream name is longer than 200 characters";
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (!(isAlnum(c) || c === 45 || c === 95 || c === 46)) {
      return "upstream name may hold only letters, digits, '.', '-' and '_'";
    }
  }
  return undefined;
}

/** An HTTP header name (RFC 9110 token), for the headers a backend rule sets. */
export function checkHeaderName(n: string): string | undefined {
  if (n.length === 0) return "header name must not be empty";
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    const ok = isAlnum(c) || c === 33 || (c >= 35 && c <= 39) || c === 42 || c === 43 || c === 45 || c === 46 || c === 94 || c === 95 || c === 96 || c === 124 || c === 126;
    if (!ok) return "not a valid HTTP header name";
  }
  return undefined;
}
