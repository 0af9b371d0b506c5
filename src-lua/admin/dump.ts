// /__erulb__/dump: PUT writes this node's whole live configuration to etcd (config/republish.ts);
// "OK" only when every key was written.
import { republish } from "../config/republish";
import * as reply from "./reply";

export function put(): void {
  const failure = republish();
  if (failure !== undefined) return reply.fail(failure.status, failure.msg);
  reply.ok();
}
