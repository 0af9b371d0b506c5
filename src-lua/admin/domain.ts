// /__erulb__/domain: GET every rule set; PUT {domain: ruleset, ...} adds or replaces those
// domains; DELETE ["domain", ...] removes them. Answers as the Eru load balancer does.
import { domains as kind } from "../core/kinds/index";
import { domains } from "../config/view";
import * as reply from "./reply";
import * as resource from "./resource";

export function get(): void {
  resource.getRaw(domains);
}

export function put(): void {
  resource.put(kind);
}

export function del(): void {
  if (resource.remove(kind) !== undefined) reply.ok();
}
