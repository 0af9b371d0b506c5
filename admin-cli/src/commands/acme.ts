// acme: obtains and renews certificates from an ACME CA (RFC 8555) with acme-client, for the
// domains under /$ELBNAME/acme/domains/ (and --domains). Long-running, like register: one per
// fleet is active (an etcd lease on /$ELBNAME/acme/leader), the others stand by.
// acme status | add | rm | renew: what it did, and the list of domains.
import { hostname } from "node:os";
import { checkDomain } from "../../../src-lua/core/names";
import { campaign } from "../acme/lead";
import { acmeKeys, DomainStatus, Runner } from "../acme/runner";
import { Command, Ctx, str } from "../cli";
import { CliError } from "../etcd";
import { paint, table } from "../output";

const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";

function num(ctx: Ctx, name: string, fallback: number, min: number, max: number): number {
  const v = str(ctx, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`--${name} must be a number from ${min} to ${max}`, 2);
  return n;
}

function domainArg(d: string | undefined, usage: string): string {
  if (!d) throw new CliError(`usage: elbctl ${usage}`, 2);
  const err = checkDomain(d);
  if (err !== undefined) throw new CliError(`invalid domain "${d}": ${err}`, 2);
  return d;
}

/** Writes one key of the ACME list (domains/, renew/) for the command's domain. */
async function putListed(ctx: Ctx, d: string | undefined, usage: string, dir: "domains" | "renew", value: string, said: (domain: string, key: string) => string): Promise<void> {
  const domain = domainArg(d, usage);
  const key = `${acmeKeys(ctx.store().root)[dir]}${domain}`;
  const rev = await ctx.store().txn([], [{ put: key, value }]);
  ctx.out.print(() => ctx.out.line(said(domain, key)), { key, revision: rev });
}

export const acmeCommands: Command[] = [
  {
    name: "acme",
    args: "[--directory URL] [--email E] [--domains a,b] [--renew-before 30] ...",
    summary: "obtain and renew certificates by ACME HTTP-01, for the domains under /$ELBNAME/acme/domains/ (foreground)",
    details: [
      `--directory URL     the CA's ACME directory (default Let's Encrypt: ${LETS_ENCRYPT})`,
      "--email E           the account's contact",
      "--domains a,b       domains beside those listed under /$ELBNAME/acme/domains/ (elbctl acme add)",
      "--renew-before D    renew D days before expiry (default 30)",
      "--check-every S     seconds between two looks at every domain (default 3600; changes to the list and `acme renew` act at once)",
      "--retry-min S, --retry-max S   backoff after a failure: S doubling up to the max (default 60, 21600)",
      "--ttl S             the lead's lease (default 15): a standby takes over within it when the active one dies",
      "--id NAME           this process in /$ELBNAME/acme/leader (default <hostname>:<pid>)",
      "One process per fleet works, the others stand by. Each domain gets /$ELBNAME/certs/<domain>. SIGTERM/SIGINT give the lead up and exit 0.",
    ].join("\n"),
    valued: ["directory", "email", "domains", "renew-before", "check-every", "retry-min", "retry-max", "ttl", "id"],
    async run(ctx) {
      const domains = (str(ctx, "domains") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      for (const d of domains) domainArg(d, "acme --domains a.example.com,b.example.com");
      const opts = {
        directory: str(ctx, "directory") ?? LETS_ENCRYPT,
        email: str(ctx, "email"),
        domains,
        renewBeforeDays: num(ctx, "renew-before", 30, 0, 3650),
        checkEvery: num(ctx, "check-every", 3600, 1, 86400),
        retryMin: num(ctx, "retry-min", 60, 0.1, 86400),
        retryMax: num(ctx, "retry-max", 21600, 0.1, 7 * 86400),
        nodesWaitMs: 15000,
      };
      const ttl = num(ctx, "ttl", 15, 2, 3600);
      const id = str(ctx, "id") ?? `${hostname()}:${process.pid}`;
      const store = ctx.store();
      const keys = acmeKeys(store.root);
      const log = (msg: string, fields: Record<string, unknown> = {}) => ctx.out.print(() => ctx.out.line(`${new Date().toISOString()} ${msg}`), { time: new Date().toISOString(), msg, ...fields });
      let stopping = false;
      let runner: Runner | undefined;
      let lead = campaign(store.client, keys.leader, id, ttl, log);
      let resolveDone: (code: number) => void = () => undefined;
      const done = new Promise<number>((r) => (resolveDone = r));
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        runner?.stop();
        await lead.stop();
        log(`${signal}: stopped (the lead is free)`);
        resolveDone(0);
      };
      process.on("SIGTERM", () => void stop("SIGTERM"));
      process.on("SIGINT", () => void stop("SIGINT"));
      void (async () => {
        while (!stopping) {
          try {
            await lead.acquired;
          } catch {
            return;
          }
          log(`leading the ACME work of ${store.root} as ${id} (directory ${opts.directory})`, { event: "lead", id });
          runner = new Runner(store, opts, id, log);
          const work = runner.run().catch((e) => log(`stopped working: ${(e as Error).message.split("\n")[0]}`));
          const why = await lead.lost;
          runner.stop();
          await work;
          if (stopping) return;
          log(`lost the lead (${why}); standing by`);
          lead = campaign(store.client, keys.leader, id, ttl, log);
        }
      })();
      return done;
    },
  },
  {
    name: "acme status",
    args: "",
    summary: "which process leads the ACME work, and each domain's state: valid until, failures, next attempt, last error",
    async run(ctx) {
      const store = ctx.store();
      const keys = acmeKeys(store.root);
      const leader = await store.get(keys.leader);
      const listed = (await store.range(keys.domains)).kvs.map((kv) => kv.key.substring(keys.domains.length));
      const states = new Map<string, DomainStatus>();
      for (const kv of (await store.range(keys.status)).kvs) {
        try {
          const s = JSON.parse(kv.value) as DomainStatus;
          states.set(s.domain, s);
        } catch {
          /* skipped */
        }
      }
      const names = [...new Set([...listed, ...states.keys()])].sort();
      const rows = names.map((d) => ({ listed: listed.includes(d), ...(states.get(d) ?? { domain: d, state: "pending" as const }) }));
      ctx.out.print(
        () => {
          ctx.out.line(leader ? `leader: ${leader.value}` : "leader: none (no `elbctl acme` is running)");
          if (rows.length === 0) return ctx.out.line(`no domains under ${keys.domains} (elbctl acme add <domain>)`);
          table(
            ctx.out,
            ["DOMAIN", "STATE", "NOT AFTER", "FAILURES", "NEXT ATTEMPT", "LAST ERROR"],
            rows.map((r) => {
              const s = r as Partial<DomainStatus> & { domain: string; state: string };
              const state = s.state === "valid" ? paint(ctx.out, "green", "valid") : s.state === "failed" ? paint(ctx.out, "red", "failed") : paint(ctx.out, "yellow", s.state);
              return [s.domain, state, s.not_after ?? "", String(s.failures ?? 0), s.next_attempt_at ?? "", s.last_error ?? ""];
            }),
          );
        },
        { leader: leader?.value ?? null, domains: rows },
      );
    },
  },
  {
    name: "acme add",
    args: "<domain>",
    summary: "list a domain for `elbctl acme` (/$ELBNAME/acme/domains/<domain>)",
    run: (ctx, [d]) => putListed(ctx, d, "acme add <domain>", "domains", "", (_domain, key) => `added ${key}`),
  },
  {
    name: "acme rm",
    args: "<domain>",
    summary: "stop obtaining certificates for a domain (its certificate stays in /$ELBNAME/certs/ until removed)",
    async run(ctx, [d]) {
      const domain = domainArg(d, "acme rm <domain>");
      const keys = acmeKeys(ctx.store().root);
      const kv = await ctx.store().get(`${keys.domains}${domain}`);
      if (!kv) throw new CliError(`${domain} is not listed (no key ${keys.domains}${domain})`);
      const rev = await ctx.store().txn([], [{ del: `${keys.domains}${domain}` }, { del: `${keys.status}${domain}` }, { del: `${keys.renew}${domain}` }]);
      ctx.out.print(() => ctx.out.line(`removed ${keys.domains}${domain}`), { key: `${keys.domains}${domain}`, removed: true, revision: rev });
    },
  },
  {
    name: "acme renew",
    args: "<domain>",
    summary: "ask the running `elbctl acme` to renew a domain's certificate now",
    run: (ctx, [d]) => putListed(ctx, d, "acme renew <domain>", "renew", new Date().toISOString(), (domain, key) => `renewal of ${domain} asked (${key})`),
  },
];
