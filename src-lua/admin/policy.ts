// /__erulb__/policy: GET {upstream: policy} for every policy; PUT {upstream: policy, ...} adds
// or replaces those upstreams' policies (an upstream may get its policy before its servers);
// DELETE ["upstream", ...] removes them (the upstream goes back to the defaults).
import { policies as kind } from "../core/kinds/index";
import { policies } from "../config/view";
import * as reply from "./reply";
import * as resource from "./resource";

export function get(): void {
  resource.getRaw(policies);
}

export function put(): void {
  resource.put(kind);
}

export function del(): void {
  if (resource.remove(kind) !== undefined) reply.ok();
}
