// Node's host for the engine's core (src-lua/core/host.ts): JSON, and JavaScript's regex
// engine standing in for PCRE. It agrees on ordinary patterns; PCRE-only syntax such as (?i)
// is refused here but accepted by the engine, which checks again with PCRE when it applies a
// change. Importing this module installs it.
import { useHost, type RegexCheck } from "../../src-lua/core/host";

export const jsRegexCheck: RegexCheck = (pattern, caseless) => {
  try {
    new RegExp(pattern, caseless ? "i" : "");
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
};

useHost({
  decodeJson: (text) => {
    try {
      return { value: JSON.parse(text), error: undefined };
    } catch (e) {
      return { value: undefined, error: (e as Error).message };
    }
  },
  encodeJson: (value) => JSON.stringify(value),
  checkRegex: jsRegexCheck,
});
