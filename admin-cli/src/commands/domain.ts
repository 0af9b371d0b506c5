// domain ls | get | set | rm: the rule sets at /$ELBNAME/rules/<domain>.
import { domains, keyOf } from "../../../src-lua/core/kinds/index";
import { Command, Ctx, str } from "../cli";
import { CliError } from "../etcd";
import { readData } from "../files";
import { checkDocument, collectWarnings, Problem, readCurrent } from "../model";
import { paint, problemLines, table } from "../output";

function backends(rs: any): string[] {
  const out = new Set<string>();
  for (const r of Object.values<any>(rs?.rules ?? {})) if (r?.type === "backend" && typeof r.args?.servername === "string") out.add(r.args.servername);
  return [...out].sort();
}

function parse(value: string): any {
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

export const domainCommands: Command[] = [
  {
    name: "domain ls",
    args: "",
    summary: "list the domains with their first rule and the upstreams they route to",
    async run(ctx) {
      const cur = await readCurrent(ctx.store());
      const rows = [...cur.domains.entries()].map(([d, kv]) => {
        const rs = parse(kv.value);
        return { domain: d, init: rs?.init ?? null, rules: rs?.rules ? Object.keys(rs.rules).length : 0, upstreams: backends(rs), valid: rs !== undefined };
      });
      ctx.out.print(() => {
        if (rows.length === 0) return ctx.out.line(`no domains under ${ctx.elbName}/rules/`);
        table(ctx.out, ["DOMAIN", "INIT", "RULES", "UPSTREAMS"], rows.map((r) => [r.domain, r.init ?? paint(ctx.out, "red", "invalid JSON"), String(r.rules), r.upstreams.join(",")]));
      }, rows);
    },
  },
  {
    name: "domain get",
    args: "<domain>",
    summary: "print a domain's rule set (JSON)",
    async run(ctx, [domain]) {
      if (!domain) throw new CliError("which domain? elbctl domain get <domain>", 2);
      const kv = await ctx.store().get(keyOf(ctx.elbName, domains, domain));
      if (!kv) throw new CliError(`no domain ${domain} (no key ${keyOf(ctx.elbName, domains, domain)})`);
      const rs = parse(kv.value);
      if (ctx.out.json) ctx.out.line(JSON.stringify(rs ?? kv.value));
      else ctx.out.line(rs === undefined ? kv.value : JSON.stringify(rs, null, 2));
    },
  },
  {
    name: "domain set",
    args: "<domain> -f <ruleset.json|yaml|-> [--strict]",
    summary: "validate a rule set with the engine's code, then write it",
    optional: ["wait"],
    details:
      "Warnings (regexes with nested unbounded quantifiers, which the engine cuts off at its match limit) are printed on stderr and the rule set is written; with --strict (or ELB_REGEX_STRICT=1) they are errors and nothing is written.",
    valued: ["file"],
    flags: ["strict"],
    async run(ctx, [domain]) {
      const file = str(ctx, "file");
      if (!domain || !file) throw new CliError("usage: elbctl domain set <domain> -f <ruleset.json>", 2);
      const rs = readData(file);
      const key = keyOf(ctx.elbName, domains, domain);
      const problems: Problem[] = [];
      const { warnings } = collectWarnings(ctx.opts.strict === true, () => checkDocument(domains, domain, rs, "", problems));
      if (problems.length > 0) throw new CliError(`invalid rule set for ${key} (from ${file}), nothing written: ${problems.length} problem${problems.length > 1 ? "s" : ""}\n${problemLines(key, problems)}`);
      if (!ctx.out.json) for (const w of warnings) ctx.out.err(`elbctl: warning: ${key} ${w.path}: ${w.warning}`);
      const rev = await ctx.store().txn([], [{ put: key, value: JSON.stringify(rs) }]);
      if (rev !== false) ctx.wrote = rev;
      ctx.out.print(() => ctx.out.line(`set ${key} (revision ${rev})`), { key, revision: rev, warnings });
      const cur = await readCurrent(ctx.store());
      for (const up of backends(rs)) {
        if (!up.includes(":") && !cur.upstreams.has(up)) ctx.out.err(`elbctl: note: upstream ${up} has no servers yet: requests routed to it get 502 until it has some`);
      }
    },
  },
  {
    name: "domain rm",
    args: "<domain>",
    summary: "remove a domain's rule set",
    optional: ["wait"],
    async run(ctx, [domain]) {
      if (!domain) throw new CliError("which domain? elbctl domain rm <domain>", 2);
      const key = keyOf(ctx.elbName, domains, domain);
      const kv = await ctx.store().get(key);
      if (!kv) throw new CliError(`no domain ${domain} (no key ${key})`);
      const rev = await ctx.store().txn([{ key, modRevision: kv.modRevision }], [{ del: key }]);
      if (rev === false) throw new CliError(`${key} changed while being removed; nothing done, try again`);
      ctx.wrote = rev;
      ctx.out.print(() => ctx.out.line(`removed ${key}`), { key, removed: true, revision: rev });
    },
  },
];
