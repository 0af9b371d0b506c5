// The JSON answer when nginx itself failed to get a response from the upstream (502, 504):
// every try failed, or no server was usable. The last server tried is marked failed for
// passive health (its failure never reached the balancer phase, which sees only failures
// that are retried). ngx.ctx is gone here: $elb_peer holds the key of the server the
// request was on ("" when the balancer found none, or already counted its failure).
import { recordFailure } from "../health/passive";
import { literals, upstreams } from "../config/view";
import { encode } from "../config/json";

function markLastPeer(): void {
  const key = ngx.var.elb_peer;
  if (key === undefined || key === "") return;
  const [received] = string.match(ngx.var.upstream_bytes_received ?? "", "([^,%s]+)%s*$");
  if (received !== undefined && received !== "0") return;
  const name = ngx.var.elb_upstream ?? "";
  const up = upstreams.get(name) ?? literals.get(name);
  if (up === undefined) return;
  for (const p of up.peers) {
    if (p.key === key) recordFailure(p);
  }
}

export function run(): void {
  const status = ngx.status;
  markLastPeer();
  ngx.status = status;
  ngx.header["Content-Type"] = "application/json";
  const msg = status === 504 ? "the upstream timed out" : "no server of the upstream could answer";
  ngx.say(encode({ msg, upstream: ngx.var.elb_upstream ?? "" }));
}
