// Active health checks, once per node: every worker runs a TICK timer, and the one that leads
// the node (node/leader.ts; another takes over at once when it dies) sends the checks that
// are due, each from its own timer over a cosocket. Results go to the elb_health dict (see
// state.ts), where every worker's balancer reads them. The state machine:
//   http:        an answer in `statuses` (default 200..399) is a success, anything else (no
//                answer, a timeout, another status) a failure; `fall` failures in a row mark
//                the server unhealthy, `rise` successes in a row healthy again.
//   node-state:  any answer listed in enabled/disabled/offline is a success for the above;
//                the state it names takes effect at once when it takes the server out
//                (disabled = drain, offline = down), and after `rise` answers in a row when
//                it brings the server back (enabled).
// Every change is logged and counted (state.ts changed()).
import { HealthCheck, isHealthyStatus, nodeStateOf } from "../core/healthcheck";
import { Peer } from "../core/balancer/peer";
import { UpstreamTls } from "../core/policy";
import { isLeader, leaderPid } from "../node/leader";
import { upstreams } from "../config/view";
import { changed, DRAIN, forgetChecks, OFFLINE, readCounters, stateBits, UNHEALTHY, writeBits, writeCheck } from "./state";

const TICK = 0.1;
/** checks in flight at once; more wait for the next tick */
const MAX_RUNNING = 64;

let leading = false;
/** peer key -> when its next check is due */
const due = new LuaTable<string, number>();
const running = new LuaTable<string, boolean>();
let runningCount = 0;
/** peer keys whose state this worker wrote while leading (forgotten when they go away) */
const tracked = new LuaTable<string, boolean>();

function stateName(bits: number): string {
  if ((bits & OFFLINE) !== 0) return "offline";
  if ((bits & UNHEALTHY) !== 0) return "unhealthy";
  if ((bits & DRAIN) !== 0) return "drain";
  return "up";
}

/** Sends the check; the answer's status, or an error. */
function probe(peer: Peer, hc: HealthCheck, tls: UpstreamTls | undefined): LuaMultiReturn<[number, undefined] | [undefined, string]> {
  const sock = ngx.socket.tcp();
  const ms = hc.timeout * 1000;
  sock.settimeouts(ms, ms, ms);
  const port = hc.port > 0 ? hc.port : peer.port;
  const [ok, err] = sock.connect(peer.ip, port);
  if (ok === undefined) return $multi(undefined, `connect to ${peer.ip}:${port}: ${err}`);
  if (tls !== undefined) {
    // an HTTPS upstream is checked over TLS, with its SNI name, without verifying the certificate
    const [hs, herr] = sock.sslhandshake(undefined, tls.serverName ?? string.match(hc.host, "^[^:]+")[0] ?? peer.ip, false);
    if (hs === undefined) {
      sock.close();
      return $multi(undefined, `TLS handshake with ${peer.ip}:${port}: ${herr}`);
    }
  }
  let host = hc.host;
  if (host === "") {
    host = peer.addr;
    if (hc.port > 0) {
      const [h] = string.match(peer.addr, "^(.*):%d+$");
      host = `${h ?? peer.ip}:${port}`;
    }
  }
  const req = `GET ${hc.path} HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: ELB-healthcheck\r\nAccept: */*\r\nConnection: close\r\n\r\n`;
  const [sent, serr] = sock.send(req);
  if (sent === undefined) {
    sock.close();
    return $multi(undefined, `send: ${serr}`);
  }
  const [line, rerr] = sock.receive("*l");
  sock.close();
  if (line === undefined) return $multi(undefined, `no answer: ${rerr}`);
  const [code] = string.match(line, "^HTTP/%d+%.%d+ (%d%d%d)");
  if (code === undefined) return $multi(undefined, `not an HTTP answer: ${string.sub(line, 1, 60)}`);
  return $multi(tonumber(code)!, undefined);
}

/** Applies one check's result to the node-wide state. */
export function record(peer: Peer, hc: HealthCheck, status: number | undefined, err: string | undefined): void {
  const key = peer.key;
  const now = ngx.now();
  const c = readCounters(key);
  const before = stateBits(key);
  let bits = before;
  const nodeState = hc.type === "node-state";
  const asked = status === undefined || !nodeState ? undefined : nodeStateOf(hc, status);
  const success = status !== undefined && (nodeState ? asked !== undefined : isHealthyStatus(hc, status));
  let why = err ?? `status ${status}`;
  if (success) {
    c.ok = c.ok + 1;
    c.ko = 0;
  } else {
    c.ko = c.ko + 1;
    c.ok = 0;
    c.want = "";
    c.wantN = 0;
  }
  if ((bits & UNHEALTHY) !== 0 && c.ok >= hc.rise) {
    bits = bits & ~UNHEALTHY;
    why = `${c.ok} successful checks in a row`;
  } else if ((bits & UNHEALTHY) === 0 && c.ko >= hc.fall) {
    bits = bits | UNHEALTHY;
    why = `${c.ko} failed checks in a row, last: ${why}`;
  }
  if (!nodeState) {
    bits = bits & ~(DRAIN | OFFLINE);
  } else if (asked !== undefined) {
    if (asked === c.want) c.wantN = c.wantN + 1;
    else {
      c.want = asked;
      c.wantN = 1;
    }
    if (asked === "disabled" && (bits & DRAIN) === 0) {
      bits = (bits | DRAIN) & ~OFFLINE;
      why = `its status endpoint answered ${status}: disabled`;
    } else if (asked === "offline" && (bits & OFFLINE) === 0) {
      bits = (bits | OFFLINE) & ~DRAIN;
      why = `its status endpoint answered ${status}: offline`;
    } else if (asked === "enabled" && (bits & (DRAIN | OFFLINE)) !== 0 && c.wantN >= hc.rise) {
      bits = bits & ~(DRAIN | OFFLINE);
      why = `its status endpoint answered ${status} (enabled) ${c.wantN} times in a row`;
    }
  }
  writeCheck(key, c, now);
  if (bits !== before) {
    // back in service: slow start ramps from now
    const back = (before & (UNHEALTHY | OFFLINE)) !== 0 && (bits & (UNHEALTHY | OFFLINE)) === 0;
    writeBits(key, bits, back ? now : undefined);
    changed(key, stateName(before), stateName(bits), why);
  }
}

function check(this: void, premature: boolean, peer: Peer, hc: HealthCheck, tls: UpstreamTls | undefined): void {
  if (!premature) {
    const [ok, e] = pcall(() => {
      const [status, err] = probe(peer, hc, tls);
      // the lead may have moved while the check ran: only the leader writes
      if (leading) record(peer, hc, status, err);
    });
    if (!ok) ngx.log(ngx.ERR, "health check of ", peer.key, " failed: ", e);
  }
  running.delete(peer.key);
  runningCount = runningCount - 1;
}

function schedule(): void {
  const now = ngx.now();
  const seen = new LuaTable<string, boolean>();
  for (const [, up] of upstreams) {
    const hc = up.policy.healthcheck;
    if (hc === undefined) continue;
    for (const peer of up.peers) {
      const key = peer.key;
      seen.set(key, true);
      tracked.set(key, true);
      if (peer.params.down || running.get(key)) continue;
      const at = due.get(key);
      if (at !== undefined && now < at) continue;
      if (runningCount >= MAX_RUNNING) break;
      const [ok, err] = ngx.timer.at(0, check, peer, hc, up.policy.tls);
      if (ok === undefined) {
        ngx.log(ngx.ERR, "cannot start the health check of ", key, ": ", err);
        continue;
      }
      due.set(key, now + hc.interval);
      running.set(key, true);
      runningCount = runningCount + 1;
    }
  }
  for (const [key] of tracked) {
    if (!seen.has(key)) {
      forgetChecks(key);
      tracked.delete(key);
      due.delete(key);
    }
  }
}

function tick(this: void, premature: boolean): void {
  const stopping = premature || ngx.worker.exiting();
  if (stopping || !isLeader()) {
    if (leading && !stopping) ngx.log(ngx.WARN, "worker ", ngx.worker.pid(), " no longer runs the health checks (", leaderPid(), " leads)");
    leading = false;
    return;
  }
  if (!leading) {
    leading = true;
    ngx.log(ngx.NOTICE, "worker ", ngx.worker.pid(), " runs the active health checks of this node");
  }
  schedule();
}

/** Every worker calls this at start; the one that leads the node runs the checks. */
export function start(): void {
  ngx.timer.every(TICK, tick);
}
