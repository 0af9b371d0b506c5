// Domains: /$ELBNAME/rules/<domain> = the domain's rule set (JSON), as the Eru load balancer
// stores it. The API: /__erulb__/domain {domain: ruleset}.
import { checkRegex } from "../host";
import { checkDomain } from "../names";
import { Problem } from "../problems";
import { validateRuleSet } from "../ruleset";
import { decodeDocument, encodeDocument, noMembers } from "./json-document";
import { Kind } from "./kind";

export const domains: Kind = {
  id: "domain",
  section: "rules",
  fileSection: "domains",
  grouped: false,
  noun: "domain",
  document: "ruleset",
  checkName: checkDomain,
  memberNoun: "",
  emptyGroup: "",
  checkMember: noMembers,
  validate: (value: unknown, at: string, problems: Problem[]) => validateRuleSet(value, at, checkRegex, problems),
  encode: encodeDocument,
  decode: decodeDocument,
};
