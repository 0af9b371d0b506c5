// Per-domain counters shared by the node's workers (the elb_counters dict), for
// GET /__erulb__/status: regex matches cut off by the match limit (lua_regex_match_limit).
// Such a match counts as a miss; it is logged at most once per rule per minute on the node.
// Plain Lua: called from the access phase, only when a match failed that way.
import { RuleNode } from "../core/rules/node";

const dict = ngx.shared.elb_counters;
const REGEX = "regex_limit|";
const LOGGED = "regex_logged|";
/** seconds between two log lines about one rule */
export const LOG_INTERVAL = 60;

/** A regex of `rule` (domain `domain`) failed with `err` (pcre_exec() failed: -8: the match limit). */
export function regexLimitHit(domain: string, rule: RuleNode, err: string): void {
  if (dict === undefined) return;
  const [n] = dict.incr(REGEX + domain, 1, 0);
  const [first] = dict.add(LOGGED + domain + "|" + rule.name, true, LOG_INTERVAL);
  if (first) {
    ngx.log(ngx.WARN, `domain ${domain}: rule ${rule.name} (${rule.type}): the regex ${rule.pattern} was cut off at the match limit (${err}) and counts as a miss; ${n ?? 1} such matches on this domain so far (logged once a minute per rule at most)`);
  }
}

/** {domain: matches cut off} since the node started. */
export function regexLimitHits(): { [domain: string]: number } {
  const out: { [domain: string]: number } = {};
  if (dict === undefined) return out;
  for (const key of dict.get_keys(0)) {
    if (string.sub(key, 1, REGEX.length) === REGEX) {
      const [v] = dict.get(key);
      out[string.sub(key, REGEX.length + 1)] = v;
    }
  }
  return out;
}
