// A server's health as the management API shows it (GET /__erulb__/upstream), from the
// node-wide state in elb_health (see state.ts).
import { ServerParams } from "../core/server-params";
import { activeOnNode, changeCount, lastCheckAt, DRAIN, OFFLINE, passiveState, readCounters, stateBits, UNHEALTHY } from "./state";

export interface ServerHealth {
  /** up, drain, down, backup or unhealthy */
  state: string;
  healthy: boolean;
  /** failures counted now: passive ones within fail_timeout, plus failed checks in a row */
  fails: number;
  /** requests in flight on this node */
  active: number;
  /** when the last active check ended (seconds since the epoch), when checks run */
  checkedAt: number | undefined;
  /** how many times the server changed state (active or passive) since the node started */
  changes: number;
}

export function serverHealth(key: string, p: ServerParams, checked: boolean): ServerHealth {
  let bits = 0;
  let checkFails = 0;
  let checkedAt: number | undefined = undefined;
  if (checked) {
    bits = stateBits(key);
    checkFails = readCounters(key).ko;
    checkedAt = lastCheckAt(key);
  }
  const [passiveDown, f] = passiveState(key);
  const healthy = (p.maxFails === 0 || !passiveDown) && (bits & UNHEALTHY) === 0;
  let state = "up";
  if (p.down || (bits & OFFLINE) !== 0) state = "down";
  else if (!healthy) state = "unhealthy";
  else if (p.drain || (bits & DRAIN) !== 0) state = "drain";
  else if (p.backup) state = "backup";
  // a server taken out by passive health counted max_fails failures (the count restarts)
  const passiveFails = passiveDown ? p.maxFails : f;
  return { state, healthy, fails: passiveFails + checkFails, active: activeOnNode(key), checkedAt, changes: changeCount(key) };
}
