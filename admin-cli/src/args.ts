// elbctl's argv: util.parseArgs splits it (non-strict, as tokens); the rules it leaves open are
// ours: a valued option needs a value, a flag takes none, --no-x sets x to false.
import { parseArgs as tokenize } from "node:util";

export interface Parsed {
  positionals: string[];
  options: Record<string, string | boolean>;
}

export class UsageError extends Error {}

/** `valued` lists the options that take a value (long names, without dashes); `aliases` maps a
 *  one-letter option to its long name; `optional` lists flags that may take one as --name=VALUE. */
export function parseArgs(argv: string[], valued: string[], aliases: Record<string, string> = {}, optional: string[] = []): Parsed {
  const declared: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const name of valued) declared[name] = { type: "string" };
  for (const [short, name] of Object.entries(aliases)) declared[name] = { type: valued.includes(name) ? "string" : "boolean", short };
  const { tokens } = tokenize({ args: argv, options: declared, strict: false, tokens: true });
  const positionals: string[] = [];
  const options: Record<string, string | boolean> = {};
  for (const t of tokens) {
    if (t.kind === "positional") positionals.push(t.value);
    if (t.kind !== "option") continue;
    if (valued.includes(t.name)) {
      if (t.value === undefined) throw new UsageError(`--${t.name} needs a value`);
      options[t.name] = t.value;
    } else if (optional.includes(t.name)) {
      options[t.name] = t.value ?? true;
    } else {
      if (t.value !== undefined) throw new UsageError(`--${t.name} takes no value`);
      if (t.name.startsWith("no-")) options[t.name.substring(3)] = false;
      else options[t.name] = true;
    }
  }
  return { positionals, options };
}
