// GET /__erulb__/fleet: every live node of the fleet from /$ELBNAME/nodes/ with the revision
// it applied and its lag (the newest routing change in etcd minus that revision), read from
// etcd at the call. And ?wait=fleet for the writes (admin/resource.ts): the answer comes once
// every live node applied the change.
import { EtcdFailure } from "../etcd/failure";
import { FleetNode, newestRoutingRevision, readFleet, waitForFleet } from "../node/fleet";
import { settings } from "../node/settings";
import * as reply from "./reply";

/** Default and longest wait of ?wait=fleet (seconds). */
const WAIT_DEFAULT = 10;
const WAIT_MOST = 300;

function row(n: FleetNode, newest: number): object {
  return { id: n.id, address: n.address, version: n.version, revision: n.revision, lag: newest > n.revision ? newest - n.revision : 0, started_at: n.started_at, pid: n.pid, self: n.id === settings.nodeId };
}

export function get(): void {
  const [nodes, revision] = readFleet();
  if (nodes === undefined) return reply.fail(503, `cannot read the fleet from etcd: ${(revision as EtcdFailure).message}`);
  const [newest, nerr] = newestRoutingRevision();
  if (newest === undefined) return reply.fail(503, `cannot read the newest change from etcd: ${nerr!.message}`);
  const out: object[] = [];
  for (const n of nodes) out.push(row(n, newest));
  reply.json(200, { elbname: settings.elbName, etcd_revision: revision, newest_revision: newest, nodes: out });
}

/**
 * With ?wait=fleet, waits until every live node applied `revision` (&timeout=S, default 10);
 * false when the answer (504 naming the nodes behind) was sent instead.
 */
export function confirmed(revision: number): boolean {
  const args = ngx.req.get_uri_args();
  if (args["wait"] !== "fleet") return true;
  const given = args["timeout"];
  const t = (typeof given === "string" ? tonumber(given) : undefined) ?? WAIT_DEFAULT;
  const seconds = t < 0 ? 0 : t > WAIT_MOST ? WAIT_MOST : t;
  const res = waitForFleet(revision, seconds);
  if (res.pending.length === 0 && res.error === undefined) return true;
  const names: string[] = [];
  for (const n of res.pending) names.push(n.id);
  const pending: object[] = [];
  for (const n of res.pending) pending.push({ id: n.id, address: n.address, revision: n.revision });
  const msg =
    res.error !== undefined
      ? `written at revision ${revision} and applied here, but the fleet could not be read from etcd: ${res.error}`
      : `written at revision ${revision} and applied here, but ${names.length} node${names.length === 1 ? " has" : "s have"} not applied it within ${seconds}s: ${names.join(", ")}`;
  reply.json(504, { msg, revision, pending, applied: res.applied.length });
  return false;
}
