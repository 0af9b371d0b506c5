// The JSON answer when nginx itself failed to get a response from the upstream (502, 504):
// every try failed, or no server was usable. The last server tried is marked failed for
// passive health (its failure never reached the balancer phase, which sees only failures
// that are retried). The request's state (phases/request.ts) survives the jump: `served` is the
// key of the server the request was on, "<upstream>|<host:port>" ("<upstream>|" when the
// balancer found none).
import { recordFailure } from "../health/passive";
import { peerByKey } from "../config/view";
import { encode } from "../config/json";
import { current } from "./request";

function markLastPeer(key: string): void {
  const [received] = string.match(ngx.var.upstream_bytes_received ?? "", "([^,%s]+)%s*$");
  if (received !== undefined && received !== "0") return;
  const [, peer] = peerByKey(key);
  if (peer !== undefined) recordFailure(peer);
}

export function run(): void {
  const status = ngx.status;
  const state = current();
  let key = "";
  if (state !== undefined) {
    state.errorPage = true;
    key = state.served ?? "";
  }
  markLastPeer(key);
  ngx.status = status;
  ngx.header["Content-Type"] = "application/json";
  const msg = status === 504 ? "the upstream timed out" : "no server of the upstream could answer";
  const [name] = string.match(key, "^([^|]*)");
  ngx.say(encode({ msg, upstream: name ?? "" }));
}
