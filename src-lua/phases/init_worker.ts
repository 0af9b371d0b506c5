// init_worker_by_lua: the worker builds its view from the node's store, then follows the
// store's event log; the leading worker loads from etcd, watches it and keeps the node's
// registry entry; statsd flushing starts when configured.
import * as leader from "../node/leader";
import * as registry from "../node/fleet";
import * as snapshot from "../config/snapshot";
import * as watcher from "../config/watcher";
import { settings } from "../node/settings";
import { poll, syncAll } from "../config/sync";
import * as statsd from "../metrics/statsd";
import * as metrics from "../metrics/flush";
import { resolve } from "../node/resolve";
import * as healthChecker from "../health/checker";
import { forgetInflight, publishInflight } from "../health/state";

/** How often a worker looks for configuration changes (seconds). */
const POLL_INTERVAL = 0.005;

/** In-flight counts are published every this many polls (every 50 ms). */
const PUBLISH_EVERY = 10;
let ticks = 0;

function tick(this: void, premature: boolean): void {
  if (premature) return;
  poll(true);
  ticks = ticks + 1;
  if (ticks % PUBLISH_EVERY === 0) publishInflight();
}

export function run(): void {
  math.randomseed(ngx.now() * 1000 + ngx.worker.pid());
  syncAll();
  forgetInflight();
  ngx.timer.every(POLL_INTERVAL, tick);
  leader.start([watcher.run, registry.run, snapshot.run]);
  healthChecker.start(); // active health checks: one worker of the node runs them
  metrics.start(); // Prometheus: this worker's counts go to the elb_metrics dict on a timer
  if (settings.statsdHost !== undefined) {
    // cosockets resolve only through nginx's resolver, which ignores /etc/hosts
    const [ip, err] = resolve(settings.statsdHost);
    if (ip === undefined) ngx.log(ngx.ERR, `STATSD: ${err}; metrics are off`);
    else statsd.start(ip, settings.statsdPort, settings.elbName);
  }
}
