// cert ls | get | set | rm: the TLS certificates at /$ELBNAME/certs/<name>, read and checked with
// the engine's rules (src-lua/core/certs.ts) through node:crypto. Nothing here prints a key.
import { isoTime, publicView, readCertificates, type CertSummary } from "../../../src-lua/core/certs";
import { certs, keyOf } from "../../../src-lua/core/kinds/index";
import { Command, Ctx, str } from "../cli";
import { CliError, Kv } from "../etcd";
import { readText } from "../files";
import "../host";
import { checkName, Problem } from "../model";
import { paint, problemLines, table } from "../output";

/** Certificates expiring within this many days are flagged (as /__erulb__/status lists them). */
export const EXPIRING_DAYS = 14;

export interface CertRow {
  name: string;
  summary?: CertSummary;
  /** why the stored value is refused (the engine skips it) */
  invalid?: string;
}

export function readStored(kv: Kv, name: string): CertRow {
  let value: unknown;
  try {
    value = JSON.parse(kv.value);
  } catch (e) {
    return { name, invalid: `invalid JSON: ${(e as Error).message}` };
  }
  const problems: Problem[] = [];
  const summary = readCertificates(value, "", problems);
  return summary ? { name, summary } : { name, invalid: problems.map((p) => `${p.path || "/"}: ${p.error}`).join("; ") };
}

export async function readCerts(ctx: Ctx): Promise<CertRow[]> {
  const prefix = `${ctx.store().root}${certs.section}/`;
  const { kvs } = await ctx.store().range(prefix);
  return kvs.map((kv) => readStored(kv, kv.key.substring(prefix.length)));
}

/** The stored certificate `name`, or a "no certificate" error. */
async function stored(ctx: Ctx, name: string | undefined, usage: string): Promise<{ key: string; kv: Kv; name: string }> {
  if (!name) throw new CliError(`which certificate? elbctl ${usage}`, 2);
  const key = keyOf(ctx.elbName, certs, name);
  const kv = await ctx.store().get(key);
  if (!kv) throw new CliError(`no certificate ${name} (no key ${key})`);
  return { key, kv, name };
}

const daysLeft = (s: CertSummary) => Math.floor((s.notAfter - Date.now() / 1000) / 86400);

function machine(r: CertRow): unknown {
  return r.summary ? { ...publicView(r.summary), days_left: daysLeft(r.summary) } : { invalid: r.invalid };
}

export const certCommands: Command[] = [
  {
    name: "cert ls",
    args: "",
    summary: `the certificates: names covered, expiry (flagged within ${EXPIRING_DAYS} days), issuer`,
    async run(ctx) {
      const rows = await readCerts(ctx);
      ctx.out.print(
        () => {
          if (rows.length === 0) return ctx.out.line(`no certificates under ${ctx.store().root}certs/`);
          table(
            ctx.out,
            ["NAME", "NAMES", "NOT AFTER", "DAYS LEFT", "ISSUER"],
            rows.map((r) => {
              if (!r.summary) return [r.name, paint(ctx.out, "red", `INVALID: ${r.invalid}`), "", "", ""];
              const left = daysLeft(r.summary);
              const days = left < EXPIRING_DAYS ? paint(ctx.out, left < 0 ? "red" : "yellow", String(left)) : String(left);
              return [r.name, r.summary.names.join(","), isoTime(r.summary.notAfter), days, r.summary.issuer];
            }),
          );
        },
        Object.fromEntries(rows.map((r) => [r.name, machine(r)])),
      );
    },
  },
  {
    name: "cert get",
    args: "<name>",
    summary: "one certificate: names, validity, issuer, SHA-256 fingerprint (never the key)",
    async run(ctx, [n]) {
      const { kv, name } = await stored(ctx, n, "cert get <name>");
      const row = readStored(kv, name);
      if (ctx.out.json) ctx.out.line(JSON.stringify(machine(row)));
      else ctx.out.line(JSON.stringify(machine(row), null, 2));
    },
  },
  {
    name: "cert set",
    args: "<name> --cert <chain.pem> --key <key.pem>",
    summary: "validate a certificate chain and its key with the engine's rules, then write them",
    details: 'The chain starts with the site\'s certificate, followed by its intermediates. Refused with nothing written: unreadable PEM, a key that is not the certificate\'s, an expired certificate, a chain without a leaf or out of order. The name "default" is the certificate for handshakes no other one covers.',
    valued: ["cert", "key"],
    async run(ctx, [name]) {
      const certFile = str(ctx, "cert");
      const keyFile = str(ctx, "key");
      if (!name || !certFile || !keyFile) throw new CliError("usage: elbctl cert set <name> --cert <chain.pem> --key <key.pem>", 2);
      const key = keyOf(ctx.elbName, certs, name);
      const value = { cert: readText(certFile), key: readText(keyFile) };
      const problems: Problem[] = [];
      checkName(certs, name, "", problems);
      const summary = readCertificates(value, "", problems);
      if (problems.length > 0 || !summary) throw new CliError(`invalid certificate for ${key}, nothing written:\n${problemLines(key, problems)}`);
      const rev = await ctx.store().txn([], [{ put: key, value: certs.encode(value) }]);
      ctx.out.print(() => ctx.out.line(`set ${key}: ${summary.names.join(",")} until ${isoTime(summary.notAfter)} (revision ${rev})`), { key, revision: rev, ...publicView(summary) });
    },
  },
  {
    name: "cert rm",
    args: "<name>",
    summary: "remove a certificate",
    async run(ctx, [n]) {
      const { key, kv } = await stored(ctx, n, "cert rm <name>");
      const rev = await ctx.store().txn([{ key, modRevision: kv.modRevision }], [{ del: key }]);
      if (rev === false) throw new CliError(`${key} changed while being removed; nothing done, try again`);
      ctx.out.print(() => ctx.out.line(`removed ${key}`), { key, removed: true, revision: rev });
    },
  },
];
