// /__erulb__/policy: GET {upstream: policy} for every policy; PUT {upstream: policy, ...} adds
// or replaces those upstreams' policies (an upstream may get its policy before its servers);
// DELETE ["upstream", ...] removes them (the upstream goes back to the defaults).
import { policyKey } from "../core/keys";
import { checkUpstreamName } from "../core/names";
import { validatePolicy } from "../core/policy";
import { settings } from "../node/settings";
import { policies } from "../config/view";
import * as resource from "./json-resource";

const policy: resource.JsonResource = {
  noun: "upstream",
  document: "policy",
  keyOf: (name) => policyKey(settings.elbName, name),
  checkName: checkUpstreamName,
  validate: validatePolicy,
};

export function get(): void {
  resource.getRaw(policies);
}

export function put(): void {
  resource.put(policy);
}

export function del(): void {
  resource.del(policy);
}
