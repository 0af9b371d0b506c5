// The fleet: each node keeps /$ELBNAME/nodes/<node id> alive under an etcd lease, with its
// address, version, start time and the revision of the newest change every one of its workers
// applied, published within CHECK_EVERY of that. The key disappears when the node dies (the
// lease expires) or stops (the lease is revoked). The revision published is that of routing
// changes only (config/watcher.ts commits no revision for the registry's own keys), so the
// nodes' registry writes do not make each other write again. Also here: reading the fleet
// back, the newest routing change in etcd, and waiting until every node applied a revision
// (elbctl --wait, the admin API's ?wait=fleet, GET /__erulb__/fleet).
import { etcd } from "../etcd/connection";
import { EtcdFailure } from "../etcd/failure";
import { prefixEnd } from "../etcd/kv";
import { KINDS, sectionPrefix } from "../core/kinds/index";
import { decode, encode } from "../config/json";
import { holds } from "./leader";
import { settings } from "./settings";
import * as store from "../config/store";

export const VERSION = "0.1.0";
const LEASE_TTL = 10;
/** how often the registry looks for a newly applied revision (seconds) */
const CHECK_EVERY = 0.02;
const KEEPALIVE_EVERY = 3;

export function nodeKey(): string {
  return `/${settings.elbName}/nodes/${settings.nodeId}`;
}

export function nodesPrefix(): string {
  return `/${settings.elbName}/nodes/`;
}

/**
 * The revision of the newest routing change every worker of this node applied: the store's,
 * once each worker took every event up to it; undefined while one is still applying.
 */
export function appliedRevision(): number | undefined {
  // commit() sets the event count before the revision: read in the other order
  const rev = store.revision();
  const seq = store.lastSeq();
  for (let w = 0; w < ngx.worker.count(); w++) if (store.appliedBy(w) < seq) return undefined;
  return rev;
}

function describeNode(revision: number): string {
  return encode({
    id: settings.nodeId,
    address: settings.advertise,
    version: VERSION,
    started_at: store.getStatus("started_at") ?? 0,
    revision,
    watched_revision: store.watchedRevision(),
    pid: ngx.worker.pid(),
  });
}

export function run(this: void, premature: boolean, term: number): void {
  if (premature) return;
  let lease: string | undefined = undefined;
  let published = "";
  let publishedRev = -1;
  let lastKeepalive = 0;
  while (holds(term) && !ngx.worker.exiting()) {
    ngx.update_time();
    if (lease === undefined) {
      const [l, err] = etcd().leaseGrant(LEASE_TTL);
      if (l !== undefined) {
        lease = l.id;
        publishedRev = -1;
        lastKeepalive = ngx.now();
      } else {
        ngx.log(ngx.WARN, `registry: ${err}`);
      }
    } else if (ngx.now() - lastKeepalive >= KEEPALIVE_EVERY) {
      const [, err] = etcd().leaseKeepAlive(lease);
      lastKeepalive = ngx.now();
      if (err !== undefined) {
        ngx.log(ngx.WARN, `registry keepalive: ${err}`);
        lease = undefined;
        continue;
      }
    }
    const applied = appliedRevision();
    if (lease !== undefined && applied !== undefined && applied !== publishedRev) {
      const value = describeNode(applied);
      if (value !== published || publishedRev === -1) {
        const [, err] = etcd().put(nodeKey(), value, lease);
        if (err === undefined) {
          published = value;
          publishedRev = applied;
        } else {
          ngx.log(ngx.WARN, `registry: ${err}`);
        }
      } else {
        publishedRev = applied;
      }
    }
    ngx.sleep(CHECK_EVERY);
  }
  // stopping (not a lost lead): leave the fleet at once
  if (lease !== undefined && ngx.worker.exiting()) etcd().leaseRevoke(lease);
}

/** A node as its registry entry says. */
export interface FleetNode {
  id: string;
  address: string;
  version: string;
  started_at: number;
  /** the newest routing change every worker of the node applied */
  revision: number;
  watched_revision: number;
  pid: number;
}

/** Every live node (the keys under /$ELBNAME/nodes/), sorted by id, and etcd's revision. */
export function readFleet(): LuaMultiReturn<[FleetNode[], number] | [undefined, EtcdFailure]> {
  const prefix = nodesPrefix();
  const [res, err] = etcd().range(prefix, prefixEnd(prefix));
  if (res === undefined) return $multi(undefined, err!);
  const nodes: FleetNode[] = [];
  for (const kv of res.kvs) {
    const [v] = decode(kv.value);
    const e = type(v) === "table" ? (v as { [k: string]: unknown }) : {};
    const num = (x: unknown) => (type(x) === "number" ? (x as number) : 0);
    nodes.push({
      id: type(e.id) === "string" ? (e.id as string) : string.sub(kv.key, prefix.length + 1),
      address: type(e.address) === "string" ? (e.address as string) : "",
      version: type(e.version) === "string" ? (e.version as string) : "",
      started_at: num(e.started_at),
      revision: num(e.revision),
      watched_revision: num(e.watched_revision),
      pid: num(e.pid),
    });
  }
  table.sort(nodes, (a, b) => a.id < b.id);
  return $multi(nodes, res.revision);
}

/**
 * The mod revision of the newest routing key in etcd (rules, upstreams, policies, ...), one
 * sorted range per section; 0 when there is none. A deleted key leaves no revision to find:
 * a node that applied a newer delete is simply not behind.
 */
export function newestRoutingRevision(): LuaMultiReturn<[number, undefined] | [undefined, EtcdFailure]> {
  let newest = 0;
  for (const kind of KINDS) {
    const prefix = sectionPrefix(settings.elbName, kind);
    const [res, err] = etcd().range(prefix, prefixEnd(prefix), { limit: 1, sortOrder: "DESCEND", sortTarget: "MOD", keysOnly: true });
    if (res === undefined) return $multi(undefined, err!);
    const kv = res.kvs[0];
    if (kv !== undefined && kv.modRevision > newest) newest = kv.modRevision;
  }
  return $multi(newest, undefined);
}

/** The outcome of waiting for the fleet: the nodes still behind (empty: all applied it). */
export interface FleetWait {
  pending: FleetNode[];
  applied: FleetNode[];
  /** set when etcd could not be read at the end */
  error: string | undefined;
}

/** Waits (yielding) until every live node applied `revision`, at most `seconds`. */
export function waitForFleet(revision: number, seconds: number): FleetWait {
  ngx.update_time();
  const deadline = ngx.now() + seconds;
  for (;;) {
    const [nodes, err] = readFleet();
    const result: FleetWait = { pending: [], applied: [], error: undefined };
    if (nodes === undefined) {
      result.error = (err as EtcdFailure).message;
    } else {
      for (const n of nodes) (n.revision >= revision ? result.applied : result.pending).push(n);
      if (result.pending.length === 0) return result;
    }
    ngx.update_time();
    if (ngx.now() >= deadline) return result;
    ngx.sleep(0.05);
    ngx.update_time();
  }
}
