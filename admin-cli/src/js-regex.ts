// The regex check for Node (elbctl, the vitest suites): JavaScript's engine stands in for PCRE.
// It agrees on ordinary patterns; PCRE-only syntax such as (?i) is refused here but accepted
// by the engine, which checks again with PCRE when it applies a change.
import { RegexCheck } from "../../src-lua/core/ruleset";

export const jsRegexCheck: RegexCheck = (pattern, caseless) => {
  try {
    new RegExp(pattern, caseless ? "i" : "");
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};
