// init_by_lua, in the master: settings from the environment, modules loaded once so that
// workers inherit them. A malformed setting stops nginx with a clear message.
import "../config/json";
import { load } from "../config/settings";
import * as store from "../config/store";
// the hot path, loaded here so that workers share these modules from the master
import "./access";
import "./balancer";
import "./log";

export function run(): void {
  const err = load();
  if (err !== undefined) error(`ELB: ${err}`, 0);
  // nginx was (re)started: the node must read etcd again (the store survives a reload)
  store.setStatus("loaded", false);
  store.setStatus("etcd", "not contacted yet");
}
