// redirect: {"status": 301|302|303|307|308, "location": "https://$host$request_uri"}: answers
// the redirect at once (status default 302). The location is a template (core/rules/template.ts)
// over $scheme, $host, $request_uri, $uri, $args, $is_args and the captures $1..$9; values from
// the request are percent-encoded where a Location header needs it.
import { pointer } from "../problems";
import { checkKnown, requireArg } from "./args";
import { RuleKind, Template } from "./node";
import { checkLocation, LOCATION_VARS, parseTemplate } from "./template";
import { RuleType } from "./type";

export const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

export const redirect: RuleType = {
  kind: RuleKind.Redirect,
  check(args, c) {
    checkKnown("redirect", args, { status: "number", location: "string" }, c);
    const status = args["status"];
    if (typeof status === "number" && REDIRECT_STATUSES.indexOf(status) < 0) {
      c.problems.push({ path: pointer(c.at, "status"), error: `must be one of ${REDIRECT_STATUSES.join(", ")}, got ${status}` });
    }
    requireArg(args, "location", 'where to send the client, e.g. "https://$host$request_uri"', c);
    const loc = args["location"];
    if (typeof loc === "string") {
      const t = parseTemplate(loc, LOCATION_VARS);
      const err = typeof t === "string" ? t : checkLocation(loc, t);
      if (err !== undefined) c.problems.push({ path: pointer(c.at, "location"), error: err });
    }
  },
  edges: () => [],
  compile(args, node) {
    node.status = args["status"] ?? 302;
    node.location = parseTemplate(args["location"], LOCATION_VARS) as Template;
  },
};
