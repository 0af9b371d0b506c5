// Policies: /$ELBNAME/policies/<upstream> = the upstream's balancing policy (JSON). An
// upstream may have its policy before its servers. The API: /__erulb__/policy {upstream: policy}.
import { checkUpstreamName } from "../names";
import { validatePolicy } from "../policy";
import { decodeDocument, encodeDocument, noMembers } from "./json-document";
import { Kind } from "./kind";

export const policies: Kind = {
  id: "policy",
  section: "policies",
  fileSection: "policies",
  grouped: false,
  noun: "upstream",
  document: "policy",
  checkName: checkUpstreamName,
  memberNoun: "",
  emptyGroup: "",
  checkMember: noMembers,
  validate: validatePolicy,
  encode: encodeDocument,
  decode: decodeDocument,
};
