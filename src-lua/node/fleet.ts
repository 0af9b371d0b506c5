// The fleet: each node keeps /$ELBNAME/nodes/<node id> alive under an etcd lease, with its
// address, version, start time and the revision of the newest change it applied. The key
// disappears when the node dies (the lease expires) or stops (the lease is revoked).
// The revision published is that of routing changes only, so the nodes' own registry writes
// do not make each other write again.
import { etcd } from "../etcd/connection";
import { encode } from "../config/json";
import { holds } from "./leader";
import { settings } from "./settings";
import * as store from "../config/store";

export const VERSION = "0.1.0";
const LEASE_TTL = 10;
const EVERY = 1;
const KEEPALIVE_EVERY = 3;

export function nodeKey(): string {
  return `/${settings.elbName}/nodes/${settings.nodeId}`;
}

function describeNode(): string {
  return encode({
    id: settings.nodeId,
    address: settings.advertise,
    version: VERSION,
    started_at: store.getStatus("started_at") ?? 0,
    revision: store.revision(),
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
    if (lease !== undefined && store.revision() !== publishedRev) {
      const value = describeNode();
      if (value !== published || publishedRev === -1) {
        const [, err] = etcd().put(nodeKey(), value, lease);
        if (err === undefined) {
          published = value;
          publishedRev = store.revision();
        } else {
          ngx.log(ngx.WARN, `registry: ${err}`);
        }
      }
    }
    ngx.sleep(EVERY);
  }
  // stopping (not a lost lead): leave the fleet at once
  if (lease !== undefined && ngx.worker.exiting()) etcd().leaseRevoke(lease);
}
