// ip: {"cidrs": ["10.0.0.0/8", "::1/128", ...], "succ", "fail"}: the client address is in one of
// the blocks. The client address is nginx's $remote_addr: the connection's peer, or, when the
// peer is one of ELB_TRUSTED_PROXIES, the address it forwarded (nginx/launch.sh renders the
// realip settings).
import { parseCidr } from "../cidr";
import { isArray } from "../json-shape";
import { describe, pointer } from "../problems";
import { portableText } from "../text";
import { checkKnown, matcherEdges, requireArg } from "./args";
import { RuleKind } from "./node";
import { RuleType } from "./type";

export const MAX_CIDRS = 256;

export const ip: RuleType = {
  kind: RuleKind.Ip,
  check(args, c) {
    checkKnown("ip", args, { cidrs: "array", succ: "edge", fail: "edge" }, c);
    requireArg(args, "cidrs", 'a list such as ["10.0.0.0/8", "::1/128"]', c);
    const list = args["cidrs"];
    if (!isArray(list)) return;
    const at = pointer(c.at, "cidrs");
    const items = list as unknown[];
    if (items.length === 0) c.problems.push({ path: at, error: "cidrs must not be empty" });
    else if (items.length > MAX_CIDRS) c.problems.push({ path: at, error: `at most ${MAX_CIDRS} blocks` });
    for (let i = 0; i < items.length; i++) {
      const v = items[i];
      if (typeof v !== "string") c.problems.push({ path: pointer(at, i), error: `must be a string, got ${describe(v)}` });
      else if (parseCidr(v, portableText.byteAt) === undefined) c.problems.push({ path: pointer(at, i), error: `"${v}" is not an IPv4 or IPv6 address or CIDR block` });
    }
  },
  edges: matcherEdges,
  compile(args, node) {
    node.cidrs = [];
    for (const s of args["cidrs"] as string[]) node.cidrs.push(parseCidr(s, portableText.byteAt)!);
  },
};
