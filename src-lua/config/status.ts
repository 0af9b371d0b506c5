// This node's view of itself, for GET /__erulb__/status: its name, how far it has followed
// etcd, each worker's progress, the lead, the values from etcd it skipped as invalid, and the
// regex matches per domain that the match limit cut off.
import { isLeader, leaderPid } from "../node/leader";
import { settings } from "../node/settings";
import { certStatus } from "./certs";
import { regexLimitHits } from "./counters";
import * as store from "./store";
import { counts } from "./view";

/** How full each shared dict is, in bytes: {capacity, free} (free counts whole free pages). */
function dictUse(): object {
  const out = new LuaTable<string, object>();
  for (const name in ngx.shared) {
    const d = ngx.shared[name];
    if (d !== undefined) out.set(name, { capacity: d.capacity(), free: d.free_space() });
  }
  return out;
}

export function nodeStatus(): object {
  const workers: unknown[] = [];
  const n = ngx.worker.count();
  for (let w = 0; w < n; w++) {
    const p = store.progressOf(w);
    workers.push({ id: w, applied_event: p?.event ?? -1, revision: p?.revision ?? 0, applied_at: p?.at ?? 0 });
  }
  return {
    node: settings.nodeId,
    address: settings.advertise,
    elbname: settings.elbName,
    loaded: store.getStatus("loaded") === true,
    revision: store.watchedRevision(),
    config_revision: store.revision(),
    etcd: store.getStatus("etcd") ?? "not contacted yet",
    domains: counts.domains,
    upstreams: counts.upstreams,
    certificates: certStatus(14),
    last_event: store.lastSeq(),
    invalid_keys: store.invalidKeys(),
    regex_limit_hits: regexLimitHits(),
    leader_pid: leaderPid() ?? 0,
    shared_dicts: dictUse(),
    answered_by: { pid: ngx.worker.pid(), leader: isLeader() },
    workers,
  };
}
