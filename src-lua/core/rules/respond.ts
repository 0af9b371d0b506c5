// respond: {"status", "body", "content_type", "headers"}: ELB answers itself (a maintenance
// page, a health answer, the 429 after a limit). Defaults: an empty body, text/plain.
import { checkHeaderName } from "../names";
import { isObject, sortedKeys } from "../json-shape";
import { pointer } from "../problems";
import { checkHeaderValue, checkKnown, checkWholeArg, requireArg } from "./args";
import { RuleKind } from "./node";
import { RuleType } from "./type";

export const MAX_BODY = 65536;
export const DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8";

/** Headers ELB sets itself on such an answer: named by their own args, or computed. */
const OWN = ["content-type", "content-length", "transfer-encoding", "connection"];

export const respond: RuleType = {
  kind: RuleKind.Respond,
  check(args, c) {
    checkKnown("respond", args, { status: "number", body: "string", content_type: "string", headers: "object" }, c);
    requireArg(args, "status", "200 to 599", c);
    checkWholeArg(args, "status", 200, 599, c);
    const body = args["body"];
    const status = args["status"];
    if (typeof body === "string") {
      if (body.length > MAX_BODY) c.problems.push({ path: pointer(c.at, "body"), error: `must be at most ${MAX_BODY} bytes` });
      else if (body.length > 0 && (status === 204 || status === 304)) c.problems.push({ path: pointer(c.at, "body"), error: `a ${status} answer has no body` });
    }
    const ct = args["content_type"];
    if (typeof ct === "string") checkHeaderValue(ct, pointer(c.at, "content_type"), c);
    const headers = args["headers"];
    if (isObject(headers)) {
      const at = pointer(c.at, "headers");
      for (const k of sortedKeys(headers)) {
        const err = checkHeaderName(k);
        if (err !== undefined) c.problems.push({ path: pointer(at, k), error: `header "${k}": ${err}` });
        else if (OWN.indexOf(k.toLowerCase()) >= 0) c.problems.push({ path: pointer(at, k), error: `ELB sets ${k} itself${k.toLowerCase() === "content-type" ? " (use content_type)" : ""}` });
        else checkHeaderValue(headers[k], pointer(at, k), c);
      }
    }
  },
  edges: () => [],
  compile(args, node) {
    node.status = args["status"];
    node.body = args["body"] ?? "";
    node.contentType = args["content_type"] ?? DEFAULT_CONTENT_TYPE;
    const headers: { [name: string]: string } | undefined = args["headers"];
    if (headers !== undefined) {
      const names: string[] = [];
      const values: string[] = [];
      for (const k of sortedKeys(headers)) {
        names.push(k);
        values.push(headers[k]);
      }
      if (names.length > 0) {
        node.headerNames = names;
        node.headerValues = values;
      }
    }
  },
};
