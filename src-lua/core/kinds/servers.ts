// Upstream servers: /$ELBNAME/upstreams/<upstream>/<host:port> = nginx-style server params
// ("", "weight=10 max_fails=2", "backup", ...), as the Eru load balancer stores them. The API:
// /__erulb__/upstream {upstream: {"host:port": "params"}}, a PUT replacing the upstream's servers.
import { parseHostPort } from "../address";
import { checkUpstreamName } from "../names";
import { Problem } from "../problems";
import { parseServerParams } from "../server-params";
import { Kind } from "./kind";

function checkAddress(this: void, addr: string): string | undefined {
  const hp = parseHostPort(addr);
  return typeof hp === "string" ? `invalid host:port: ${hp}` : undefined;
}

export const servers: Kind = {
  id: "server",
  section: "upstreams",
  fileSection: "upstreams",
  grouped: true,
  noun: "upstream",
  document: "params",
  checkName: checkUpstreamName,
  memberNoun: "host:port",
  emptyGroup: "an upstream needs at least one server (DELETE removes an upstream)",
  checkMember: checkAddress,
  validate: (value: unknown, at: string, problems: Problem[]) => {
    parseServerParams(value, at, problems);
  },
  encode: (value: unknown) => value as string,
  decode: (text: string) => text,
};
