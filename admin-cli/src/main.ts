// elbctl: the operator's command line for ELB. Routing lives in etcd (/$ELBNAME/...); every
// value written here is validated first with the engine's own code (src-lua/core).
import { parseArgs, UsageError } from "./args";
import { Command, GLOBAL_FLAGS, GLOBAL_VALUED, makeCtx } from "./cli";
import { acmeCommands } from "./commands/acme";
import { certCommands } from "./commands/cert";
import { configCommands } from "./commands/config";
import { domainCommands } from "./commands/domain";
import { fleetCommands } from "./commands/fleet";
import { graphCommands } from "./commands/graph";
import { registerCommands } from "./commands/register";
import { upstreamCommands } from "./commands/upstream";
import { CliError, loadEtcd3 } from "./etcd";
import { confirmFleet } from "./nodes";
import { makeOut } from "./output";

const COMMANDS: Command[] = [...domainCommands, ...upstreamCommands, ...registerCommands, ...configCommands, ...fleetCommands, ...graphCommands, ...certCommands, ...acmeCommands];
const ALIASES: Record<string, string> = { f: "file", o: "output", h: "help", j: "json" };

const GLOBAL_HELP = `Options for every command:
  --etcd host:port[,...]  etcd endpoints (default: $ETCD, else 127.0.0.1:2379)
  --name NAME             the key prefix /NAME/ (default: $ELBNAME, else ELB)
  --timeout S             seconds to wait for etcd (default 5)
  --etcd-cacert FILE      https:// endpoints: the CA to check etcd's certificate (default: $ETCD_CACERT, else the system's)
  --etcd-cert FILE, --etcd-key FILE
                          a client certificate for etcd (default: $ETCD_CERT, $ETCD_KEY)
  --user U, --password P  etcd authentication (default: $ETCD_USER, $ETCD_PASSWORD; prefer the variables)
  --json                  machine output
  --color / --no-color    colours (default: only when stdout is a terminal)
  --wait[=SECONDS]        (commands that write) return once every live node in /NAME/nodes/
                          applied the change (default 30 s); exit 4 naming the nodes that have not
  -h, --help              help`;

function usage(cmds: Command[]): string {
  const w = Math.max(...cmds.map((c) => `${c.name} ${c.args}`.length));
  return cmds.map((c) => `  ${`${c.name} ${c.args}`.padEnd(w)}  ${c.summary}`).join("\n");
}

function help(prefix?: string): string {
  const cmds = prefix ? COMMANDS.filter((c) => c.name.split(" ")[0] === prefix) : COMMANDS;
  return `elbctl: manage ELB's routing in etcd\n\nUsage: elbctl <command> [options]\n\nCommands:\n${usage(cmds)}\n\n${GLOBAL_HELP}\n`;
}

function commandHelp(c: Command): string {
  const own = [...(c.valued ?? []).map((v) => `--${v} VALUE`), ...(c.flags ?? []).map((f) => `--${f}`), ...(c.optional ?? []).map((f) => `--${f}[=SECONDS]`)];
  return `Usage: elbctl ${c.name} ${c.args}\n\n${c.summary}.\n${c.details ? `\n${c.details}\n` : ""}${own.length ? `\nOptions: ${own.join(", ")}\n` : ""}\n${GLOBAL_HELP}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const allValued = new Set(GLOBAL_VALUED);
  for (const c of COMMANDS) for (const v of c.valued ?? []) allValued.add(v);
  const allOptional = new Set<string>();
  for (const c of COMMANDS) for (const v of c.optional ?? []) allOptional.add(v);
  let jsonOut = false;
  try {
    const { positionals, options } = parseArgs(argv, [...allValued], ALIASES, [...allOptional]);
    jsonOut = options.json === true;
    const [first, second] = positionals;
    if (!first || first === "help") {
      const topic = first === "help" ? second : undefined;
      process.stdout.write(help(topic));
      return first || options.help ? 0 : 2;
    }
    const cmd = COMMANDS.find((c) => c.name === `${first} ${second}`) ?? COMMANDS.find((c) => c.name === first);
    if (!cmd) {
      const group = COMMANDS.filter((c) => c.name.split(" ")[0] === first);
      if (group.length > 0) {
        process.stdout.write(help(first));
        if (options.help) return 0;
        throw new UsageError(second ? `unknown command "${first} ${second}"` : `"${first}" needs a sub-command: ${group.map((c) => c.name.split(" ")[1]).join(", ")}`);
      }
      throw new UsageError(`unknown command "${first}" (elbctl --help lists them)`);
    }
    if (options.help) {
      process.stdout.write(commandHelp(cmd));
      return 0;
    }
    const allowed = new Set([...GLOBAL_VALUED, ...GLOBAL_FLAGS, ...(cmd.valued ?? []), ...(cmd.flags ?? []), ...(cmd.optional ?? [])]);
    for (const k of Object.keys(options)) if (!allowed.has(k)) throw new UsageError(`elbctl ${cmd.name} has no option --${k} (elbctl ${cmd.name} --help)`);
    const out = makeOut(jsonOut, typeof options.color === "boolean" ? options.color : undefined);
    const ctx = makeCtx(out, options);
    await loadEtcd3();
    const pos = positionals.slice(cmd.name.split(" ").length);
    try {
      const code = await cmd.run(ctx, pos);
      if (typeof code === "number" && code !== 0) return code;
      if (options.wait !== undefined && options.wait !== false) return await confirmFleet(ctx, options.wait);
      return typeof code === "number" ? code : 0;
    } finally {
      ctx.closeStore();
    }
  } catch (e) {
    const code = e instanceof UsageError ? 2 : e instanceof CliError ? e.code : 1;
    const msg = e instanceof Error ? e.message : String(e);
    if (jsonOut) process.stderr.write(`${JSON.stringify({ error: msg })}\n`);
    else process.stderr.write(`elbctl: ${msg}\n`);
    if (!(e instanceof UsageError) && !(e instanceof CliError) && process.env.ELBCTL_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return code;
  }
}
