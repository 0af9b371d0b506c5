// The JSON answer when nginx itself failed to get a response from the upstream (502, 504):
// every try failed. The last server tried is marked failed for passive health (its failure
// never reached the balancer phase, which sees only failures that are retried).
import { recordFailure } from "../health/passive";
import { upstreams } from "../config/view";
import { encode } from "../config/json";

function lastEntry(list: string | undefined): string | undefined {
  if (list === undefined) return undefined;
  const [last] = string.match(list, "([^,%s]+)%s*$");
  return last;
}

function markLastPeer(): void {
  const up = upstreams.get(ngx.var.elb_upstream ?? "");
  const addr = lastEntry(ngx.var.upstream_addr);
  const received = lastEntry(ngx.var.upstream_bytes_received);
  if (up === undefined || addr === undefined || (received !== undefined && received !== "0")) return;
  for (const p of up.peers) {
    if (`${p.ip}:${p.port}` === addr) recordFailure(p);
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
