// backend: {"servername", "rewrite"?, "set_response_headers"?, <header>: <value>, ...}: ends the
// walk at an upstream (or a literal host:port). Every other arg is a request header sent to it,
// as before; "rewrite" is a path template over the last regex's captures ("/v2/$1", see
// core/rules/template.ts; the query string is kept) and "set_response_headers" an object of
// headers set on the answer ("" removes one the server sent).
import { parseHostPort } from "../address";
import { isObject, sortedKeys } from "../json-shape";
import { checkHeaderName, checkUpstreamName } from "../names";
import { describe, pointer } from "../problems";
import { checkHeaderValue } from "./args";
import { RuleKind, Template } from "./node";
import { parseTemplate, PATH_VARS } from "./template";
import { RuleType } from "./type";

export const backend: RuleType = {
  kind: RuleKind.Backend,
  check(args, c) {
    const at = c.at;
    const server = args["servername"];
    if (typeof server !== "string") {
      c.problems.push({ path: pointer(at, "servername"), error: `servername must be a string (an upstream name or host:port), got ${describe(server)}` });
    } else if (server.indexOf(":") >= 0) {
      const hp = parseHostPort(server);
      if (typeof hp === "string") c.problems.push({ path: pointer(at, "servername"), error: `invalid host:port: ${hp}` });
    } else {
      const err = checkUpstreamName(server);
      if (err !== undefined) c.problems.push({ path: pointer(at, "servername"), error: err });
    }
    for (const k of sortedKeys(args)) {
      if (k === "servername") continue;
      const v = args[k];
      if (k === "rewrite") {
        if (typeof v !== "string") c.problems.push({ path: pointer(at, k), error: `rewrite must be a path template such as "/v2/$1", got ${describe(v)}` });
        else {
          const t = parseTemplate(v, PATH_VARS);
          if (typeof t === "string") c.problems.push({ path: pointer(at, k), error: t });
          else if (t.parts.length === 0) c.problems.push({ path: pointer(at, k), error: "rewrite must not be empty" });
        }
      } else if (k === "set_response_headers") {
        if (!isObject(v)) {
          c.problems.push({ path: pointer(at, k), error: `set_response_headers must be an object {"Header-Name": "value"}, got ${describe(v)}` });
          continue;
        }
        for (const h of sortedKeys(v)) {
          const err = checkHeaderName(h);
          if (err !== undefined) c.problems.push({ path: pointer(pointer(at, k), h), error: `header "${h}": ${err}` });
          else checkHeaderValue(v[h], pointer(pointer(at, k), h), c);
        }
      } else {
        const err = checkHeaderName(k);
        if (err !== undefined) c.problems.push({ path: pointer(at, k), error: `header "${k}": ${err}` });
        else if (typeof v !== "string") c.problems.push({ path: pointer(at, k), error: `header value must be a string, got ${describe(v)}` });
      }
    }
  },
  edges: () => [],
  compile(args, node) {
    node.server = args["servername"];
    node.literal = node.server.indexOf(":") >= 0;
    const names: string[] = [];
    const values: string[] = [];
    for (const k of sortedKeys(args)) {
      if (k === "servername" || k === "rewrite" || k === "set_response_headers") continue;
      names.push(k);
      values.push(args[k]);
    }
    if (names.length > 0) {
      node.headerNames = names;
      node.headerValues = values;
    }
    if (typeof args["rewrite"] === "string") node.pathTemplate = parseTemplate(args["rewrite"], PATH_VARS) as Template;
    const resp: { [name: string]: string } | undefined = args["set_response_headers"];
    if (resp !== undefined) {
      const names = sortedKeys(resp);
      if (names.length > 0) {
        node.responseHeaderNames = names;
        node.responseHeaderValues = [];
        for (const h of names) node.responseHeaderValues.push(resp[h]);
      }
    }
  },
};
