// /__erulb__/status: this node's view of itself.
import * as store from "../config/store";
import { appliedSeq } from "../config/sync";
import { counts } from "../config/view";
import * as reply from "./reply";

export function get(): void {
  const workers: unknown[] = [];
  const n = ngx.worker.count();
  for (let w = 0; w < n; w++) workers.push({ id: w, applied_event: store.appliedBy(w) });
  reply.json(200, {
    node: ngx.var.hostname,
    pid: ngx.worker.pid(),
    loaded: store.getStatus("loaded") === true,
    revision: store.revision(),
    etcd: store.getStatus("etcd") ?? "not contacted yet",
    domains: counts.domains,
    upstreams: counts.upstreams,
    last_event: store.lastSeq(),
    this_worker_applied: appliedSeq(),
    invalid_keys: store.invalidKeys(),
    workers,
  });
}
