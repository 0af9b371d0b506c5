// What each rule type module (core/rules/<type>.ts) provides to the graph (core/ruleset.ts):
// the check of its args, the rules it leads to, and how it fills a compiled node.
import { RegexCheck } from "../host";
import { Problem } from "../problems";
import { RuleKind, RuleNode } from "./node";

/** A remark that does not make a rule set invalid: where (JSON pointer) and what. */
export interface Warning {
  path: string;
  warning: string;
}

/** What checking one rule's args needs. */
export interface RuleCheck {
  /** the rule's name, and the JSON pointer of its args */
  name: string;
  at: string;
  /** every rule of the set, by name (an edge must name one) */
  rules: { [name: string]: unknown };
  checkRegex: RegexCheck;
  problems: Problem[];
  /** where warnings go (undefined: dropped) */
  warnings: Warning[] | undefined;
  /** nested unbounded quantifiers are errors, not warnings */
  strict: boolean;
}

export const enum Slot {
  Succ = 1,
  Fail = 2,
  Branch = 3,
}

/** A rule a rule leads to: the name, the JSON pointer of the field that names it, its slot. */
export interface Edge {
  target: string;
  at: string;
  slot: Slot;
}

export type Args = { [key: string]: unknown };

export interface RuleType {
  kind: RuleKind;
  /** adds what is wrong with args (an object) */
  check(this: void, args: Args, c: RuleCheck): void;
  /** the names args give as next rules (strings only; they may name no rule), in walk order */
  edges(this: void, args: Args, at: string): Edge[];
  /** fills the node's fields from args that passed check (links are set by the graph) */
  compile(this: void, args: { [key: string]: any }, node: RuleNode): void;
}
