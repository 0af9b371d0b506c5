// Templates: a backend's `rewrite` ("/v2/$1") and a redirect's `location`
// ("https://$host$request_uri"). `$1`..`$9` are the captures of the last regex that matched on
// the walk ("" when it had fewer groups, or none matched); `$name` or `${name}` is one of a
// small set of request values; `$$` is a dollar sign. Parsed once when the rule set is applied.
import { Template } from "./node";

/** The variables a redirect's location may use, by name: the nginx variable each reads. */
export const LOCATION_VARS: { [name: string]: string } = {
  scheme: "scheme",
  host: "host",
  request_uri: "request_uri",
  uri: "uri",
  args: "args",
  is_args: "is_args",
};

/** The variables a backend's rewrite may use. */
export const PATH_VARS: { [name: string]: string } = { uri: "uri" };

function known(vars: { [name: string]: string }): string {
  const names: string[] = [];
  for (const k in vars) names.push(`$${k}`);
  names.sort();
  return `${names.join(", ")}, $1 to $9, $$`;
}

function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

/** The parsed template, or what is wrong with it. Linear in its length: plain runs are cut out whole, never built a character at a time. */
export function parseTemplate(text: string, vars: { [name: string]: string }): Template | string {
  const t: Template = { parts: [], caps: [], vars: [], usesCaptures: false };
  let pieces: string[] = [];
  let runStart = 0;
  const endRun = (to: number) => {
    if (to > runStart) pieces.push(text.substring(runStart, to));
  };
  const flush = () => {
    const literal = pieces.join("");
    pieces = [];
    if (literal !== "") {
      t.parts.push(literal);
      t.caps.push(0);
      t.vars.push("");
    }
  };
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 32 || c === 127) return "must not contain control characters";
    if (c !== 36) {
      i++;
      continue;
    }
    endRun(i);
    const next = text.charCodeAt(i + 1);
    if (next === 36) {
      pieces.push("$");
      i += 2;
      runStart = i;
      continue;
    }
    let name = "";
    let end = i + 1;
    if (next === 123) {
      const close = text.indexOf("}", i + 2);
      if (close < 0) return `"\${" at position ${i + 1} has no closing "}"`;
      name = text.substring(i + 2, close);
      end = close + 1;
    } else if (next >= 48 && next <= 57) {
      name = text.charAt(i + 1);
      end = i + 2;
    } else {
      while (end < text.length && isNameChar(text.charCodeAt(end))) end++;
      name = text.substring(i + 1, end);
    }
    if (name === "") return `a lone "$" at position ${i + 1} (write $$ for a dollar sign)`;
    flush();
    const first = name.charCodeAt(0);
    if (first >= 48 && first <= 57) {
      if (name.length !== 1 || first === 48) return `$${name}: captures are $1 to $9`;
      t.parts.push("");
      t.caps.push(first - 48);
      t.vars.push("");
      t.usesCaptures = true;
    } else {
      const v = typeof vars[name] === "string" ? vars[name] : undefined;
      if (v === undefined) return `unknown variable $${name} (known: ${known(vars)})`;
      t.parts.push("");
      t.caps.push(0);
      t.vars.push(v);
    }
    i = end;
    runStart = i;
  }
  endRun(text.length);
  flush();
  return t;
}

/** A redirect's location: where it may start (an absolute URL, or a path on this host) and no spaces. */
export function checkLocation(text: string, t: Template): string | undefined {
  if (text.indexOf(" ") >= 0) return "must not contain spaces (write %20)";
  if (t.parts.length === 0) return "must not be empty";
  const first = t.parts[0];
  const v = t.vars[0];
  if (t.caps[0] === 0 && v === "") {
    if (first.startsWith("/") || first.startsWith("http://") || first.startsWith("https://")) return undefined;
  } else if (v === "uri" || v === "request_uri") {
    return undefined;
  } else if (v === "scheme" && t.parts.length > 1 && t.vars[1] === "" && t.caps[1] === 0 && t.parts[1].startsWith("://")) {
    return undefined;
  }
  return 'must start with "/", "http://", "https://", "$scheme://", $uri or $request_uri';
}
