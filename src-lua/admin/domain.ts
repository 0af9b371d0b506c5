// /__erulb__/domain: GET every rule set; PUT {domain: ruleset, ...} adds or replaces those
// domains; DELETE ["domain", ...] removes them. Answers as the Eru load balancer does.
import { rulesKey } from "../core/keys";
import { checkDomain } from "../core/names";
import { Problem } from "../core/problems";
import { validateRuleSet } from "../core/ruleset";
import { pcreCheck } from "../config/regex";
import { settings } from "../node/settings";
import { domains } from "../config/view";
import * as resource from "./json-resource";

const domain: resource.JsonResource = {
  noun: "domain",
  document: "ruleset",
  keyOf: (name) => rulesKey(settings.elbName, name),
  checkName: checkDomain,
  validate: (doc: unknown, at: string, problems: Problem[]) => validateRuleSet(doc, at, pcreCheck, problems),
};

export function get(): void {
  resource.getRaw(domains);
}

export function put(): void {
  resource.put(domain);
}

export function del(): void {
  resource.del(domain);
}
