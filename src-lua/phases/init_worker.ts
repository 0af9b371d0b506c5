// init_worker_by_lua: the worker builds its view from the node's store, then follows the
// store's event log; one worker loads from etcd; statsd flushing starts when configured.
import * as loader from "../config/loader";
import { settings } from "../config/settings";
import { poll, syncAll } from "../config/sync";
import * as statsd from "../metrics/statsd";
import { resolve } from "../config/resolve";

/** How often a worker looks for configuration changes (seconds). */
const POLL_INTERVAL = 0.005;

function tick(this: void, premature: boolean): void {
  if (premature) return;
  poll();
}

export function run(): void {
  math.randomseed(ngx.now() * 1000 + ngx.worker.pid());
  syncAll();
  ngx.timer.every(POLL_INTERVAL, tick);
  loader.start();
  if (settings.statsdHost !== undefined) {
    // cosockets resolve only through nginx's resolver, which ignores /etc/hosts
    const [ip, err] = resolve(settings.statsdHost);
    if (ip === undefined) ngx.log(ngx.ERR, `STATSD: ${err}; metrics are off`);
    else statsd.start(ip, settings.statsdPort);
  }
}
