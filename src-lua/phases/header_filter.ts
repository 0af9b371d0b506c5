// The header filter phase: sticky sessions. When the upstream's policy has a sticky cookie
// and the request did not already carry the value naming the server that answered, the
// answer sets it (HttpOnly; the value is opaque, never the server's address), next to any
// Set-Cookie of the server's own. Plain Lua.
import { Peer } from "../core/balancer/peer";
import { Upstream } from "../config/view";

export function run(): void {
  const ctx = ngx.ctx;
  const peer: Peer | undefined = ctx.elb_peer;
  if (peer === undefined) return;
  const up: Upstream = ctx.elb_up;
  if (up.stickyVar === undefined || ctx.elb_sticky === peer.id) return;
  const cookie = up.stickyPrefix + peer.id + up.stickySuffix;
  const existing = ngx.header["Set-Cookie"];
  if (existing === undefined) {
    ngx.header["Set-Cookie"] = cookie;
  } else if (type(existing) === "string") {
    ngx.header["Set-Cookie"] = [existing as string, cookie];
  } else {
    const list: string[] = [];
    for (const c of existing as string[]) list.push(c);
    list.push(cookie);
    ngx.header["Set-Cookie"] = list;
  }
}
