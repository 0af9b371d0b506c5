// ip: {"cidrs": ["10.0.0.0/8", "::1/128", ...], "succ", "fail"}: the client address is in one of
// the blocks. The client address is nginx's $remote_addr: the connection's peer, or, when the
// peer is one of ELB_TRUSTED_PROXIES, the address it forwarded (nginx/launch.sh renders the
// realip settings).
import { parseCidr } from "../cidr";
import { portableText } from "../text";
import { checkKnown, checkStringList, matcherEdges } from "./args";
import { RuleKind } from "./node";
import { RuleType } from "./type";

export const MAX_CIDRS = 256;

export const ip: RuleType = {
  kind: RuleKind.Ip,
  check(args, c) {
    checkKnown("ip", args, { cidrs: "array", succ: "edge", fail: "edge" }, c);
    checkStringList(args, "cidrs", '["10.0.0.0/8", "::1/128"]', MAX_CIDRS, c, (v) =>
      parseCidr(v, portableText.byteAt) === undefined ? `"${v}" is not an IPv4 or IPv6 address or CIDR block` : undefined,
    );
  },
  edges: matcherEdges,
  compile(args, node) {
    node.written = (args["cidrs"] as string[]).join(", ");
    node.cidrs = [];
    for (const s of args["cidrs"] as string[]) node.cidrs.push(parseCidr(s, portableText.byteAt)!);
  },
};
