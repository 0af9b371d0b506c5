// How the admin API's bodies map to keys, for any kind:
//   PUT    {name: value}            flat kinds: each name's key is written
//          {name: {member: value}}  grouped kinds: each group becomes exactly these members
//   DELETE ["name", ...]            the names' keys (flat) or whole groups (grouped) go
// Everything in the body is validated first; with any problem nothing is planned.
import { isArray, isObject, sortedKeys } from "../json-shape";
import { describe, pointer, Problem } from "../problems";
import { Kind } from "./kind";
import { groupPrefix, keyOf } from "./index";

export interface Put {
  key: string;
  value: string;
}

export interface Group {
  name: string;
  /** where its members' keys are */
  prefix: string;
}

export interface WritePlan {
  kind: Kind;
  puts: Put[];
  deletes: string[];
  /** grouped kinds: the groups written whole (their other members are deleted) */
  groups: Group[];
  /** the names the body gives, in order */
  names: string[];
}

function emptyPlan(kind: Kind): WritePlan {
  return { kind, puts: [], deletes: [], groups: [], names: [] };
}

function planGroup(kind: Kind, elbName: string, name: string, members: unknown, at: string, plan: WritePlan, problems: Problem[]): void {
  if (!isObject(members)) {
    problems.push({ path: at, error: `expected an object of {"${kind.memberNoun}": "${kind.document}"}, got ${describe(members)}` });
    return;
  }
  const list = sortedKeys(members);
  if (list.length === 0) problems.push({ path: at, error: kind.emptyGroup });
  plan.groups.push({ name, prefix: groupPrefix(elbName, kind, name) });
  for (const member of list) {
    const mat = pointer(at, member);
    const merr = kind.checkMember(member);
    if (merr !== undefined) problems.push({ path: mat, error: merr });
    const before = problems.length;
    kind.validate(members[member], mat, problems);
    if (problems.length === before) plan.puts.push({ key: keyOf(elbName, kind, name, member), value: kind.encode(members[member]) });
  }
}

export function planPut(kind: Kind, elbName: string, body: unknown, problems: Problem[]): WritePlan {
  const plan = emptyPlan(kind);
  if (!isObject(body)) {
    const shape = kind.grouped ? `{"${kind.memberNoun}": "${kind.document}"}` : kind.document;
    problems.push({ path: "", error: `expected an object of {${kind.noun}: ${shape}}, got ${describe(body)}` });
    return plan;
  }
  for (const name of sortedKeys(body)) {
    const at = pointer("", name);
    const nerr = kind.checkName(name);
    if (nerr !== undefined) problems.push({ path: at, error: nerr });
    plan.names.push(name);
    if (kind.grouped) {
      planGroup(kind, elbName, name, body[name], at, plan, problems);
    } else {
      const before = problems.length;
      kind.validate(body[name], at, problems);
      if (problems.length === before) plan.puts.push({ key: keyOf(elbName, kind, name), value: kind.encode(body[name]) });
    }
  }
  return plan;
}

/**
 * The fewest etcd operations a PUT of `body` can need (its puts), counted without validating
 * anything: a body over the transaction limit is refused before its values are read (a
 * thousand certificates take a second).
 */
export function leastPutOps(kind: Kind, body: unknown): number {
  if (!isObject(body)) return 0;
  let n = 0;
  for (const name in body) {
    const v = body[name];
    if (!kind.grouped) n++;
    else if (isObject(v)) for (const _member in v) n++;
  }
  return n;
}

export function planDelete(kind: Kind, elbName: string, body: unknown, problems: Problem[]): WritePlan {
  const plan = emptyPlan(kind);
  if (!isArray(body)) {
    problems.push({ path: "", error: `expected an array of ${kind.noun} names, got ${describe(body)}` });
    return plan;
  }
  const seen: { [name: string]: boolean } = {};
  const list = body as unknown[];
  for (let i = 0; i < list.length; i++) {
    const name = list[i];
    if (typeof name !== "string") {
      problems.push({ path: pointer("", i), error: `must be a ${kind.noun} name (a string), got ${describe(name)}` });
      continue;
    }
    // a group's name becomes a key prefix: it must be valid; a flat key of any name can go
    // (a value written by hand under an invalid name is removed this way)
    const nerr = kind.grouped ? kind.checkName(name) : undefined;
    if (nerr !== undefined) {
      problems.push({ path: pointer("", i), error: nerr });
      continue;
    }
    if (seen[name]) continue;
    seen[name] = true;
    plan.names.push(name);
    if (kind.grouped) plan.groups.push({ name, prefix: groupPrefix(elbName, kind, name) });
    else plan.deletes.push(keyOf(elbName, kind, name));
  }
  return plan;
}
