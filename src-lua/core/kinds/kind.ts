// A kind of configuration, described once: where its values live in etcd, what a valid name
// and a valid value are, and how the admin API and elbctl's files carry them. The loader, the
// watcher, the snapshot, the admin API, elbctl and the tests all go through these
// descriptions (kinds/index.ts lists them); the engine adds one apply step per kind
// (config/apply.ts). Pure: runs under Node and as Lua.
import { Problem } from "../problems";

export interface Kind {
  /** what the API and elbctl call one: "domain", "server", "policy" */
  id: string;
  /** the key's segment after /$ELBNAME/: "rules", "upstreams", "policies" */
  section: string;
  /** the section of elbctl's declarative file: "domains", "upstreams", "policies" */
  fileSection: string;
  /** false: not part of elbctl's apply/export files (certificates and their keys, ACME challenges) */
  inFiles?: boolean;
  /**
   * grouped kinds have two levels, /<section>/<name>/<member> (an upstream's servers): the API
   * and files carry {name: {member: value}}, and a PUT replaces the whole group. Flat kinds
   * carry {name: value}.
   */
  grouped: boolean;
  /** what a name is, in messages: "domain", "upstream" */
  noun: string;
  /** what a value is, in messages: "ruleset", "params", "policy" */
  document: string;
  /** grouped kinds: what a member is, in messages ("host:port"), and why a group may not be empty */
  memberNoun: string;
  emptyGroup: string;
  /** an error message, or undefined when `name` is valid */
  checkName(this: void, name: string): string | undefined;
  /** grouped kinds: an error message, or undefined when `member` is valid */
  checkMember(this: void, member: string): string | undefined;
  /** adds what is wrong with a value (as the API carries it) to problems, at JSON pointer `at` */
  validate(this: void, value: unknown, at: string, problems: Problem[]): void;
  /** a value as the API carries it -> the text stored in etcd */
  encode(this: void, value: unknown): string;
  /** stored text -> the value; a problem (and undefined) when the text cannot be read */
  decode(this: void, text: string, at: string, problems: Problem[]): unknown;
}

/** A key of ELB's, parsed. */
export interface KeyRef {
  kind: Kind;
  name: string;
  /** grouped kinds: the member ("host:port"); "" otherwise */
  member: string;
}
