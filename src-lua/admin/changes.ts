// GET /__erulb__/changes: the last configuration changes this node took from etcd, newest
// first (config/recent.ts): [{revision, at, type, key, note}]; ?limit=N (default and most 64).
import { recent } from "../config/recent";
import * as reply from "./reply";

export function get(): void {
  const given = ngx.req.get_uri_args()["limit"];
  const n = (typeof given === "string" ? tonumber(given) : undefined) ?? 64;
  reply.json(200, { changes: recent(n < 1 ? 1 : n) });
}
