// Every kind of configuration ELB keeps under /$ELBNAME/, and the key layout they share:
//   /$ELBNAME/<section>/<name>            flat kinds (rules, policies)
//   /$ELBNAME/<section>/<name>/<member>   grouped kinds (upstreams/<name>/<host:port>)
// Keys under /$ELBNAME/ that no kind claims (nodes/, ...) are not configuration.
import { Problem } from "../problems";
import { certs } from "./certs";
import { challenges } from "./challenges";
import { domains } from "./domains";
import { Kind, KeyRef } from "./kind";
import { policies } from "./policies";
import { servers } from "./servers";

export type { Kind, KeyRef };
export { certs, challenges, domains, policies, servers };

export const KINDS: Kind[] = [domains, servers, policies, certs, challenges];

export function rootPrefix(elbName: string): string {
  return `/${elbName}/`;
}

/** Where every key of `kind` lives: /$ELBNAME/<section>/ */
export function sectionPrefix(elbName: string, kind: Kind): string {
  return `/${elbName}/${kind.section}/`;
}

/** The key of a flat kind's `name`, or of a grouped kind's `member` of group `name`. */
export function keyOf(elbName: string, kind: Kind, name: string, member?: string): string {
  return member === undefined ? `/${elbName}/${kind.section}/${name}` : `/${elbName}/${kind.section}/${name}/${member}`;
}

/** Grouped kinds: the prefix of every member of group `name`. */
export function groupPrefix(elbName: string, kind: Kind, name: string): string {
  return `/${elbName}/${kind.section}/${name}/`;
}

/** What a key under /$ELBNAME/ holds, or undefined for keys that are not configuration. */
export function parseKey(elbName: string, key: string): KeyRef | undefined {
  const root = rootPrefix(elbName);
  if (!key.startsWith(root)) return undefined;
  const rest = key.substring(root.length);
  for (const kind of KINDS) {
    const section = kind.section;
    if (rest.length <= section.length + 1 || !rest.startsWith(section) || rest.charCodeAt(section.length) !== 47) continue;
    const tail = rest.substring(section.length + 1);
    const slash = tail.indexOf("/");
    if (!kind.grouped) return slash < 0 ? { kind, name: tail, member: "" } : undefined;
    if (slash <= 0 || slash === tail.length - 1) return undefined;
    const member = tail.substring(slash + 1);
    if (member.indexOf("/") >= 0) return undefined;
    return { kind, name: tail.substring(0, slash), member };
  }
  return undefined;
}

/**
 * Values found valid, by kind and text: a load of many alike values (domains that share a rule
 * set) decodes and validates each text once. Only for one pass over a store (a value valid a
 * moment ago is valid now; certificates are checked again at every pass).
 */
export type Verdicts = { [kind: string]: { [text: string]: true } | undefined };

/**
 * Everything wrong with `text` stored at etcd `key` (JSON pointers under the key); empty when
 * it is valid, or when the key is not configuration. The one check for every value that may
 * enter the configuration: from the admin API, the load, the watch, the snapshot, elbctl.
 */
export function checkStored(elbName: string, key: string, text: string, known?: Verdicts): Problem[] {
  const problems: Problem[] = [];
  const ref = parseKey(elbName, key);
  if (ref === undefined) return problems;
  const nerr = ref.kind.checkName(ref.name);
  if (nerr !== undefined) problems.push({ path: key, error: nerr });
  if (ref.kind.grouped) {
    const merr = ref.kind.checkMember(ref.member);
    if (merr !== undefined) problems.push({ path: key, error: merr });
  }
  const before = problems.length;
  let valid = known === undefined ? undefined : known[ref.kind.id];
  if (valid !== undefined && valid[text] === true) return problems;
  const value = ref.kind.decode(text, key, problems);
  if (problems.length === before) ref.kind.validate(value, key, problems);
  if (known !== undefined && problems.length === before) {
    if (valid === undefined) {
      valid = {};
      known[ref.kind.id] = valid;
    }
    valid[text] = true;
  }
  return problems;
}
