// init_by_lua, in the master: settings from the environment, the last known good
// configuration from disk when the store is empty, and modules loaded once so that workers
// inherit them. A malformed setting stops nginx with a clear message.
import "../config/json";
import { load, settings } from "../node/settings";
import * as snapshot from "../config/snapshot";
import * as store from "../config/store";
import * as metrics from "../metrics/flush";
// the hot path, loaded here so that workers share these modules from the master
import "./access";
import "./balancer";
import "./log";
import "./ssl_certificate";
import "./acme_challenge";

export function run(): void {
  const err = load() ?? metrics.configure();
  if (err !== undefined) error(`ELB: ${err}`, 0);
  // The store survives a reload (HUP): keep it, unless the node now has another name.
  if (store.getStatus("elbname") !== settings.elbName) {
    store.clear();
    store.setStatus("elbname", settings.elbName);
    store.setStatus("started_at", ngx.time());
    store.setStatus("etcd", "not contacted yet");
    const restored = snapshot.restore();
    ngx.log(ngx.NOTICE, `last known good configuration: ${restored}`);
  }
}
