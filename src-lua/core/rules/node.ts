// A compiled rule: what the access phase reads per request. One table shape for every type (the
// fields a type does not use stay unset); rules are linked by direct references.
import { Cidr } from "../cidr";

export const enum RuleKind {
  Ua = 1,
  Path = 2,
  Backend = 3,
  Header = 4,
  Cookie = 5,
  Query = 6,
  Method = 7,
  Ip = 8,
  Scheme = 9,
  Split = 10,
  Redirect = 11,
  Respond = 12,
  Limit = 13,
}

/**
 * A string built per request: part i is the literal parts[i], or capture caps[i] (1..9) of the
 * last regex that matched, or the nginx variable vars[i].
 */
export interface Template {
  parts: string[];
  caps: number[];
  vars: string[];
  /** some part is a capture */
  usesCaptures: boolean;
}

export interface RuleNode {
  kind: RuleKind;
  /** the rule's type as written ("ua", "split", ...) */
  type: string;
  name: string;
  /** matchers and limit: where a hit (under the limit) and a miss (over it) go */
  succ: RuleNode | undefined;
  fail: RuleNode | undefined;
  /** ua, path, header, cookie, query: a PCRE regex, or (without regex) a prefix (path) or the exact value */
  pattern: string;
  regex: boolean;
  /** the PCRE options of `pattern`: "joi" for ua (caseless), "jo" otherwise */
  options: string;
  /** path: the Eru rewrite (the path becomes / + the first capture) */
  rewrite: boolean;
  /** a regex rule whose captures a template after it reads: matched with ngx.re.match */
  captures: boolean;
  /** header, cookie, query: the nginx variable read (http_x_canary, cookie_uid, arg_v); scheme: the scheme */
  variable: string;
  /** what the rule set wrote (for elbctl and logs): header, cookie, query: the name; ip: the blocks; split, limit: hash_on, key */
  written?: string;
  /** backend: an upstream name, or a literal host:port */
  server: string;
  literal: boolean;
  /** backend: request headers set; respond: headers of the answer */
  headerNames: string[];
  headerValues: string[];
  /** backend: the path template (rewrite); undefined: the path is kept */
  pathTemplate?: Template;
  /** backend: set_response_headers ("" removes the header); undefined when none */
  responseHeaderNames?: string[];
  responseHeaderValues?: string[];
  /** method: the methods that match */
  methods?: { [method: string]: boolean };
  /** ip: the blocks that match */
  cidrs?: Cidr[];
  /** split: the branches, their weights and running sums, and the sum of all weights */
  branches?: RuleNode[];
  weights?: number[];
  cumulative?: number[];
  total?: number;
  /** split: the variable hashed for a sticky choice ("" = random); limit: the key ("" = one bucket for everyone) */
  keyVar?: string;
  /** redirect, respond: the status */
  status?: number;
  /** redirect: the Location */
  location?: Template;
  /** respond: the answer */
  body?: string;
  contentType?: string;
  /** limit: seconds between two requests at the rate, and how many may come at once (rate + burst) */
  interval?: number;
  capacity?: number;
  /** limit: the middle of the counter's key: "|<length of name>:<name>|" */
  limitId?: string;
}

/**
 * The headers of a rule that sets none: one empty array shared by all of them (a rule that sets
 * headers gets arrays of its own at compile time; nothing writes to this one). At 100,000
 * rule sets, two empty tables per rule were a quarter of a compiled graph's memory.
 */
export const NO_HEADERS: string[] = [];

/** The rules a walk can go to from `n`, in order: a split's branches, else succ then fail. */
export function successors(n: RuleNode): (RuleNode | undefined)[] {
  if (n.kind === RuleKind.Split) return n.branches ?? [];
  return [n.succ, n.fail];
}
