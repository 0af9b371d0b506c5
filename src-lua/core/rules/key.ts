// What identifies a client for a sticky split (hash_on) and a limit (key): the forms of a
// policy's hash_on (remote_addr, uri, header:<name>, cookie:<name>, arg:<name>), read from
// the nginx variable they name. A request without that value falls back to remote_addr.
import { HashOn, parseHashOn } from "../policy";
import { headerVariable } from "./value";

export const KEY_FORMS = "remote_addr, uri, header:<name>, cookie:<name>, arg:<name>";

/** The nginx variable `spec` reads, or an error message naming `field`. */
export function keyVariable(spec: string, field: string): string | { error: string } {
  const parsed = parseHashOn(spec);
  if (typeof parsed === "string") {
    return { error: parsed.startsWith("unknown hash_on") ? `unknown ${field} "${spec}" (known: ${KEY_FORMS})` : parsed };
  }
  if (parsed.kind === HashOn.Uri) return "uri";
  if (parsed.kind === HashOn.Header) return headerVariable(parsed.name);
  if (parsed.kind === HashOn.Cookie) return `cookie_${parsed.name}`;
  if (parsed.kind === HashOn.Arg) return `arg_${parsed.name}`;
  return "remote_addr";
}
