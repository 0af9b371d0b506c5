// header, cookie and query: {"name", "pattern", "regex", "succ", "fail"} on a request header, a
// cookie or a query argument. Without regex the value must equal pattern; with regex: true,
// pattern is a PCRE regex searched in it (case-sensitive). An absent value is a miss. A query
// argument's value is URL-decoded first (%XX, and + as a space).
import { checkHeaderName } from "../names";
import { checkCookieName } from "../policy";
import { pointer } from "../problems";
import { checkKnown, checkPattern, matcherEdges, requireArg } from "./args";
import { RuleKind, RuleNode } from "./node";
import { Args, RuleCheck, RuleType } from "./type";

/** A query argument name nginx's $arg_<name> reads: unreserved URL characters. */
export function checkQueryName(n: string): string | undefined {
  if (n.length === 0) return "argument name must not be empty";
  if (n.length > 128) return "argument name is longer than 128 characters";
  for (let i = 0; i < n.length; i++) {
    const c = n.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 45 || c === 46 || c === 95 || c === 126 || c === 91 || c === 93)) {
      return "argument name may hold only letters, digits, '-', '.', '_', '~', '[' and ']'";
    }
  }
  return undefined;
}

/** The nginx variable of request header `name`: http_ + lowercase, '-' as '_'. */
export function headerVariable(name: string): string {
  return `http_${name.toLowerCase().split("-").join("_")}`;
}

function valueType(type: string, kind: RuleKind, checkName: (this: void, n: string) => string | undefined, variable: (this: void, name: string) => string): RuleType {
  return {
    kind,
    check(args: Args, c: RuleCheck) {
      checkKnown(type, args, { name: "string", pattern: "string", regex: "boolean", succ: "edge", fail: "edge" }, c);
      requireArg(args, "name", `the ${type === "query" ? "argument" : type}'s name`, c);
      const name = args["name"];
      if (typeof name === "string") {
        const err = checkName(name);
        if (err !== undefined) c.problems.push({ path: pointer(c.at, "name"), error: err });
      }
      checkPattern(args, args["regex"] === true, false, c);
    },
    edges: matcherEdges,
    compile(args, node: RuleNode) {
      node.variable = variable(args["name"]);
      node.written = args["name"];
      node.pattern = args["pattern"];
      node.regex = args["regex"] === true;
      node.options = "jo";
    },
  };
}

export const header = valueType("header", RuleKind.Header, checkHeaderName, headerVariable);
export const cookie = valueType("cookie", RuleKind.Cookie, checkCookieName, (n) => `cookie_${n}`);
export const query = valueType("query", RuleKind.Query, checkQueryName, (n) => `arg_${n}`);
