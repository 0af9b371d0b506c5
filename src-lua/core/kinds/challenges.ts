// ACME HTTP-01 challenges: /$ELBNAME/acme/challenges/<token> = the key authorization
// ("<token>.<account key thumbprint>"), written by `elbctl acme` while a CA validates a domain
// and answered by every node at /.well-known/acme-challenge/<token> (phases/acme_challenge.ts).
// Not in elbctl's files.
import { Problem, describe } from "../problems";
import { noMembers } from "./json-document";
import { Kind } from "./kind";

/** base64url characters (RFC 8555 tokens and thumbprints) */
function isB64url(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 45 || c === 95;
}

export function checkToken(t: string): string | undefined {
  if (t.length === 0 || t.length > 256) return "an ACME token has 1 to 256 characters";
  for (let i = 0; i < t.length; i++) if (!isB64url(t.charCodeAt(i))) return "an ACME token holds only base64url characters (A-Z a-z 0-9 - _)";
  return undefined;
}

function validate(this: void, value: unknown, at: string, problems: Problem[]): void {
  if (typeof value !== "string") {
    problems.push({ path: at, error: `must be the key authorization (a string), got ${describe(value)}` });
    return;
  }
  const dot = value.indexOf(".");
  const ok = dot > 0 && checkToken(value.substring(0, dot)) === undefined && checkToken(value.substring(dot + 1)) === undefined;
  if (!ok) problems.push({ path: at, error: 'must be a key authorization "<token>.<thumbprint>" (base64url)' });
}

export const challenges: Kind = {
  id: "challenge",
  section: "acme/challenges",
  fileSection: "challenges",
  inFiles: false,
  grouped: false,
  noun: "ACME token",
  document: "key authorization",
  checkName: checkToken,
  memberNoun: "",
  emptyGroup: "",
  checkMember: noMembers,
  validate,
  encode: (value: unknown) => value as string,
  decode: (text: string) => text,
};
