// Patterns that can backtrack without bound: a group holding an unbounded quantifier (*, +,
// {n,}), itself repeated by one, as in (a+)+ or (x|y*)*. On a near-miss PCRE tries every way
// of splitting the input between the two loops: exponential time. The engine bounds every
// match (lua_regex_match_limit), so such a pattern only wastes the bound; this check says so
// when the rule set is written (a warning, or an error when regexPolicy.strict is set).
// Syntactic: possessive quantifiers (a++) and atomic groups ((?>...)) do not count; overlapping
// alternatives such as (a|a)+ are not found.
import { RuleCheck } from "./type";

/** strict: nested unbounded quantifiers are errors (ELB_REGEX_STRICT=1, elbctl --strict). */
export const regexPolicy: { strict: boolean; warnings: { path: string; warning: string }[] | undefined } = { strict: false, warnings: undefined };

interface Frame {
  start: number;
  atomic: boolean;
  unbounded: boolean;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

// what quantifier() found
let qLength = 0;
let qUnbounded = false;
let qPossessive = false;

/** Reads a quantifier at index i (0-based) into qLength (0: none), qUnbounded, qPossessive. */
function quantifier(p: string, i: number): void {
  qLength = 0;
  qUnbounded = false;
  qPossessive = false;
  const c = p.charCodeAt(i);
  let j = i;
  if (c === 42 || c === 43) {
    qUnbounded = true;
    j = i + 1;
  } else if (c === 63) {
    j = i + 1;
  } else if (c === 123) {
    let k = i + 1;
    let min = 0;
    while (k < p.length && isDigit(p.charCodeAt(k))) k++;
    min = k - (i + 1);
    if (min === 0) return; // "{,n}" and "{x" are literal in PCRE
    if (p.charCodeAt(k) === 44) {
      k++;
      const maxFrom = k;
      while (k < p.length && isDigit(p.charCodeAt(k))) k++;
      if (k === maxFrom) qUnbounded = true;
    }
    if (p.charCodeAt(k) !== 125) {
      qUnbounded = false;
      return;
    }
    j = k + 1;
  } else {
    return;
  }
  const next = p.charCodeAt(j);
  if (next === 43) {
    qPossessive = true;
    j++;
  } else if (next === 63) {
    j++; // lazy: still backtracks
  }
  qLength = j - i;
}

/** The index after the character class that starts at i ("["). */
function skipClass(p: string, i: number): number {
  let k = i + 1;
  if (p.charCodeAt(k) === 94) k++;
  if (p.charCodeAt(k) === 93) k++; // a leading ] is literal
  while (k < p.length) {
    const c = p.charCodeAt(k);
    if (c === 92) k += 2;
    else if (c === 91 && p.charCodeAt(k + 1) === 58) {
      const end = p.indexOf(":]", k + 2);
      k = end < 0 ? k + 1 : end + 2;
    } else if (c === 93) return k + 1;
    else k++;
  }
  return k;
}

/** The index after the escape that starts at i ("\"). */
function skipEscape(p: string, i: number): number {
  const c = p.charCodeAt(i + 1);
  if (c === 81) {
    // \Q...\E: literal text
    const end = p.indexOf("\\E", i + 2);
    return end < 0 ? p.length : end + 2;
  }
  // \x{..}, \p{..}, \g{..}, \k{..}, \o{..}, \N{..}
  if ((c === 120 || c === 112 || c === 80 || c === 103 || c === 107 || c === 111 || c === 78) && p.charCodeAt(i + 2) === 123) {
    const end = p.indexOf("}", i + 3);
    return end < 0 ? p.length : end + 1;
  }
  return i + 2;
}

/** The first group with nested unbounded quantifiers, as written ("(a+)+"), or undefined. */
export function nestedQuantifier(p: string): string | undefined {
  const stack: Frame[] = [{ start: 0, atomic: false, unbounded: false }];
  let i = 0;
  while (i < p.length) {
    const c = p.charCodeAt(i);
    let atomEnd = -1;
    if (c === 92) {
      atomEnd = skipEscape(p, i);
    } else if (c === 91) {
      atomEnd = skipClass(p, i);
    } else if (c === 40) {
      if (p.charCodeAt(i + 1) === 63 && p.charCodeAt(i + 2) === 35) {
        const end = p.indexOf(")", i + 3); // (?#comment)
        i = end < 0 ? p.length : end + 1;
        continue;
      }
      stack.push({ start: i, atomic: p.charCodeAt(i + 1) === 63 && p.charCodeAt(i + 2) === 62, unbounded: false });
      i++;
      continue;
    } else if (c === 41) {
      if (stack.length === 1) {
        i++;
        continue;
      }
      const f = stack.pop()!;
      quantifier(p, i + 1);
      const parent = stack[stack.length - 1];
      if (qLength > 0 && qUnbounded && !qPossessive && f.unbounded && !f.atomic) {
        return p.substring(f.start, i + 1 + qLength);
      }
      if ((f.unbounded && !f.atomic && !qPossessive) || (qUnbounded && !qPossessive)) parent.unbounded = true;
      i = i + 1 + qLength;
      continue;
    } else if (c === 124) {
      i++;
      continue;
    } else {
      atomEnd = i + 1;
    }
    quantifier(p, atomEnd);
    if (qLength > 0 && qUnbounded && !qPossessive) stack[stack.length - 1].unbounded = true;
    i = atomEnd + qLength;
  }
  return undefined;
}

/** Warns (or, when strict, refuses) a pattern with nested unbounded quantifiers; `at` is its JSON pointer. */
export function lintRegex(pattern: string, at: string, c: RuleCheck): void {
  const found = nestedQuantifier(pattern);
  if (found === undefined) return;
  const why = "nested unbounded quantifiers: on a near-miss PCRE backtracks exponentially; such a match is cut off at the match limit and counts as a miss";
  if (c.strict) c.problems.push({ path: at, error: `${found}: ${why} (refused: strict regex checks are on)` });
  else if (c.warnings !== undefined) c.warnings.push({ path: at, warning: `${found}: ${why}` });
}

