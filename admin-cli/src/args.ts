// A small argv parser: positionals, --flag, --opt value, --opt=value, -f value.

export interface Parsed {
  positionals: string[];
  options: Record<string, string | boolean>;
}

export class UsageError extends Error {}

/** `valued` lists the options that take a value (long names, without dashes). */
export function parseArgs(argv: string[], valued: string[], aliases: Record<string, string> = {}): Parsed {
  const positionals: string[] = [];
  const options: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--") || (a.startsWith("-") && a.length === 2 && a !== "-")) {
      let name = a.startsWith("--") ? a.substring(2) : a.substring(1);
      let value: string | undefined;
      const eq = name.indexOf("=");
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      name = aliases[name] ?? name;
      if (valued.includes(name)) {
        if (value === undefined) {
          if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
          value = argv[++i];
        }
        options[name] = value;
      } else {
        if (value !== undefined) throw new UsageError(`--${name} takes no value`);
        if (name.startsWith("no-")) options[name.substring(3)] = false;
        else options[name] = true;
      }
    } else {
      positionals.push(a);
    }
  }
  return { positionals, options };
}
