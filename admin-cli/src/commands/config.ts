// apply and export: the whole routing configuration as one declarative file (YAML or JSON):
//   domains:   {<domain>: <rule set>}
//   upstreams: {<name>: {"<host:port>": "<params>"}}
//   policies:  {<upstream>: <policy>}
import { writeFileSync } from "node:fs";
import { stringify as toYaml } from "yaml";
import { Command, Ctx, str } from "../cli";
import { CliError, MAX_TXN_OPS_DEFAULT, retryTxn } from "../etcd";
import { readData } from "../files";
import { Change, collectWarnings, exportConfig, plan, Problem, readCurrent, validateConfig } from "../model";
import { paint } from "../output";
import { groupPrefix, keyOf, KINDS } from "../../../src-lua/core/kinds/index";

/** The etcd key a problem in the file is about: /domains/<d>/... is /$ELBNAME/rules/<d>, etc. */
function keyOfProblem(elbName: string, path: string): string | undefined {
  const seg = path.split("/").slice(1).map((x) => x.replace(/~1/g, "/").replace(/~0/g, "~"));
  const kind = KINDS.find((k) => k.fileSection === seg[0]);
  if (!kind || seg.length < 2) return undefined;
  if (!kind.grouped) return keyOf(elbName, kind, seg[1]);
  return seg.length >= 3 ? keyOf(elbName, kind, seg[1], seg[2]) : groupPrefix(elbName, kind, seg[1]);
}

function describeChange(ctx: Ctx, c: Change): string {
  const what = c.kind === "server" ? `server ${c.name} ${c.addr}` : `${c.kind} ${c.name}`;
  const sign = c.action === "add" ? paint(ctx.out, "green", "+") : c.action === "remove" ? paint(ctx.out, "red", "-") : paint(ctx.out, "yellow", "~");
  const val = (v: string | undefined) => (v === undefined ? "" : v === "" ? '""' : v.length > 100 ? `${v.substring(0, 97)}...` : v);
  if (c.action === "add") return `${sign} ${what}: ${val(c.after)}`;
  if (c.action === "remove") return `${sign} ${what}`;
  return `${sign} ${what}: ${val(c.before)} -> ${val(c.after)}`;
}

export const configCommands: Command[] = [
  {
    name: "apply",
    args: "-f <config.yaml|config.json|-> [--dry-run] [--prune]",
    summary: "apply a whole declarative configuration (domains, upstreams, policies) in one transaction",
    optional: ["wait"],
    details:
      "Each upstream in the file gets exactly the servers listed; domains and policies in the file are written when they differ. With --prune, what the file does not name is removed. The file is validated whole with the engine's code first; on any problem nothing is written. --dry-run prints the changes and writes nothing. One etcd transaction holds at most 128 operations by default (--max-ops to match a raised --max-txn-ops). Risky regexes (nested unbounded quantifiers) are printed as warnings; with --strict (or ELB_REGEX_STRICT=1) they are problems and nothing is written.",
    valued: ["file", "max-ops"],
    flags: ["dry-run", "prune", "strict"],
    async run(ctx) {
      const file = str(ctx, "file");
      if (!file) throw new CliError("usage: elbctl apply -f <config.yaml|json> [--dry-run] [--prune]", 2);
      const problems: Problem[] = [];
      const data = readData(file);
      const { result: want, warnings } = collectWarnings(ctx.opts.strict === true, () => validateConfig(data, problems));
      if (!want) {
        const lines = problems.map((p) => {
          const key = keyOfProblem(ctx.elbName, p.path);
          return `  ${file} ${p.path || "/"}${key ? ` (key ${key})` : ""}: ${p.error}`;
        });
        throw new CliError(`${file} is invalid, nothing written: ${problems.length} problem${problems.length > 1 ? "s" : ""}\n${lines.join("\n")}`);
      }
      if (!ctx.out.json) for (const w of warnings) ctx.out.err(`elbctl: warning: ${file} ${w.path}${keyOfProblem(ctx.elbName, w.path) ? ` (key ${keyOfProblem(ctx.elbName, w.path)})` : ""}: ${w.warning}`);
      const prune = ctx.opts.prune === true;
      const dry = ctx.opts["dry-run"] === true;
      const maxOps = Number(str(ctx, "max-ops") ?? MAX_TXN_OPS_DEFAULT);
      let changes: Change[] = [];
      let rev: number | null = null;
      const attempt = async () => {
        const cur = await readCurrent(ctx.store());
        const p = plan(ctx.elbName, cur, want, prune);
        changes = p.changes;
        if (p.ops.length > maxOps) {
          throw new CliError(
            `${file} needs ${p.ops.length} etcd operations; one transaction holds at most ${maxOps} (etcd's --max-txn-ops, default 128), nothing written. ` +
              "Split the file, or raise --max-txn-ops on etcd and pass --max-ops N",
          );
        }
        if (dry || p.ops.length === 0) return cur.revision;
        return ctx.store().txn(p.guards, p.ops, maxOps);
      };
      if (dry) await attempt();
      else rev = await retryTxn(`apply ${file}`, attempt);
      if (!dry && changes.length > 0 && rev !== null) ctx.wrote = rev;
      ctx.out.print(
        () => {
          for (const c of changes) ctx.out.line(describeChange(ctx, c));
          const n = changes.length;
          if (n === 0) ctx.out.line("no changes: etcd already holds this configuration");
          else if (dry) ctx.out.line(`dry run: ${n} change${n > 1 ? "s" : ""} would be applied, nothing written`);
          else ctx.out.line(`applied ${n} change${n > 1 ? "s" : ""} in one transaction (revision ${rev})`);
        },
        { dryRun: dry, changes, revision: dry ? null : rev, warnings },
      );
    },
  },
  {
    name: "export",
    args: "[-o file] [--format yaml|json]",
    summary: "print the current configuration in the format apply takes (export then apply changes nothing)",
    valued: ["output", "format"],
    async run(ctx) {
      const warnings: string[] = [];
      const cfg = exportConfig(await readCurrent(ctx.store()), warnings);
      for (const w of warnings) ctx.out.err(`elbctl: warning: ${w}`);
      const format = str(ctx, "format") ?? (ctx.out.json || /\.json$/i.test(str(ctx, "output") ?? "") ? "json" : "yaml");
      if (format !== "yaml" && format !== "json") throw new CliError("--format is yaml or json", 2);
      const text = format === "json" ? `${JSON.stringify(cfg, null, ctx.out.json ? undefined : 2)}\n` : toYaml(cfg, { lineWidth: 0 });
      const out = str(ctx, "output");
      if (out) writeFileSync(out, text);
      else process.stdout.write(text);
    },
  },
];
