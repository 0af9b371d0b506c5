// The engine's regex check: PCRE through ngx.re, with the options the access phase uses (but
// not JIT: compiling for the JIT costs ten times a syntax check, and the access phase compiles
// its own). Verdicts are kept by pattern, so a load of many rule sets that share patterns
// compiles each once.
import { RegexCheck } from "../core/host";

const KEEP = 10000;
let verdicts = new LuaTable<string, string | false>();
let kept = 0;

export const pcreCheck: RegexCheck = (pattern, caseless) => {
  const id = (caseless ? "i:" : "-:") + pattern;
  const known = verdicts.get(id);
  if (known !== undefined) return known === false ? undefined : known;
  const [, , err] = ngx.re.find("", pattern, caseless ? "i" : "");
  if (kept >= KEEP) {
    verdicts = new LuaTable();
    kept = 0;
  }
  verdicts.set(id, err ?? false);
  kept += 1;
  return err;
};
