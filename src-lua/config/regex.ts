// The engine's regex check: PCRE through ngx.re, with the options the access phase uses.
import { RegexCheck } from "../core/host";

export const pcreCheck: RegexCheck = (pattern, caseless) => {
  const [, , err] = ngx.re.find("", pattern, caseless ? "joi" : "jo");
  return err;
};
