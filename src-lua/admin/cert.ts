// /__erulb__/cert: GET {name: {names, not_before, not_after, issuer, fingerprint_sha256}} for
// every certificate this worker serves (never a key); PUT {name: {"cert": "<PEM chain>", "key":
// "<PEM key>"}, ...} adds or replaces certificates, each validated first (core/certs.ts);
// DELETE ["name", ...] removes them.
import { publicView } from "../core/certs";
import { certs as kind } from "../core/kinds/index";
import { certs } from "../config/view";
import * as reply from "./reply";
import * as resource from "./resource";

export function get(): void {
  const out: { [name: string]: object } = {};
  for (const [name, c] of certs) out[name] = publicView(c.summary);
  reply.json(200, out);
}

export function put(): void {
  resource.put(kind);
}

export function del(): void {
  if (resource.remove(kind) !== undefined) reply.ok();
}
