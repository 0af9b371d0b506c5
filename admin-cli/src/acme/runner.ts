// The work of the active `elbctl acme`: for each domain (from /$ELBNAME/acme/domains/<domain>
// and --domains), a certificate at /$ELBNAME/certs/<domain> from the ACME CA, obtained with the
// HTTP-01 challenge and renewed `renewBefore` days before it expires. The challenge is
// published at /$ELBNAME/acme/challenges/<token>, which every ELB node applies and answers; the
// CA is told to validate once every registered node serves it. A failure is retried with
// exponential backoff; each domain's state is kept at /$ELBNAME/acme/status/<domain> for
// `elbctl acme status`, and every event is logged.
import * as acme from "acme-client";
import { readCertificates, type CertSummary } from "../../../src-lua/core/certs";
import { certs, challenges, keyOf } from "../../../src-lua/core/kinds/index";
import type { Store } from "../etcd";
import { readStored } from "../commands/cert";
import type { Problem } from "../model";

export interface AcmeOptions {
  directory: string;
  email: string | undefined;
  /** domains given on the command line, beside those under /$ELBNAME/acme/domains/ */
  domains: string[];
  renewBeforeDays: number;
  /** seconds between two looks at every domain */
  checkEvery: number;
  retryMin: number;
  retryMax: number;
  /** how long to wait for every node to serve a challenge before asking the CA anyway (ms) */
  nodesWaitMs: number;
}

export interface DomainStatus {
  domain: string;
  state: "valid" | "pending" | "failed";
  not_after: string | null;
  renew_after: string | null;
  issued_at: string | null;
  failures: number;
  last_error: string | null;
  next_attempt_at: string | null;
  updated_at: string;
  by: string;
}

export const acmeKeys = (root: string) => ({
  leader: `${root}acme/leader`,
  account: `${root}acme/account`,
  domains: `${root}acme/domains/`,
  renew: `${root}acme/renew/`,
  status: `${root}acme/status/`,
});

const iso = (t: number) => new Date(t * 1000).toISOString().replace(/\.\d+Z$/, "Z");
const nowS = () => Date.now() / 1000;
const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0];

export class Runner {
  private readonly keys;
  private readonly status = new Map<string, DomainStatus>();
  private wake: () => void = () => undefined;
  private stopped = false;
  private readonly warned = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly opts: AcmeOptions,
    private readonly id: string,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {
    this.keys = acmeKeys(store.root);
  }

  stop(): void {
    this.stopped = true;
    this.wake();
  }

  /** Works until stop() (or the lead is lost, which calls stop()). */
  async run(): Promise<void> {
    for (const kv of (await this.store.range(this.keys.status)).kvs) {
      try {
        const s = JSON.parse(kv.value) as DomainStatus;
        this.status.set(s.domain, s);
      } catch {
        /* rewritten on the next look */
      }
    }
    const watcher = await this.store.client.watch().prefix(`${this.store.root}acme/`).create();
    const poke = (kv: { key: Buffer }) => {
      const k = kv.key.toString();
      if (k.startsWith(this.keys.domains) || k.startsWith(this.keys.renew)) this.wake();
    };
    watcher.on("put", poke);
    watcher.on("delete", poke);
    try {
      while (!this.stopped) {
        const next = await this.pass();
        if (this.stopped) break;
        await new Promise<void>((res) => {
          this.wake = res;
          setTimeout(res, Math.max(200, Math.min(next - Date.now(), this.opts.checkEvery * 1000)));
        });
      }
    } finally {
      await watcher.cancel().catch(() => undefined);
    }
  }

  private async domains(): Promise<string[]> {
    const listed = (await this.store.range(this.keys.domains)).kvs.map((kv) => kv.key.substring(this.keys.domains.length));
    return [...new Set([...this.opts.domains, ...listed])].sort();
  }

  /** One look at every domain; returns when the next one is due (ms since the epoch). */
  private async pass(): Promise<number> {
    let next = Date.now() + this.opts.checkEvery * 1000;
    const renew = new Set((await this.store.range(this.keys.renew)).kvs.map((kv) => kv.key.substring(this.keys.renew.length)));
    for (const domain of await this.domains()) {
      if (this.stopped) break;
      const st = this.status.get(domain);
      const forced = renew.has(domain);
      if (!forced && st?.next_attempt_at && Date.parse(st.next_attempt_at) > Date.now()) {
        next = Math.min(next, Date.parse(st.next_attempt_at));
        continue;
      }
      const have = await this.current(domain);
      let renewAt = have ? have.notAfter - this.opts.renewBeforeDays * 86400 : 0;
      // --renew-before longer than the CA's certificates live: at most one renewal per look
      const issuedAt = st?.issued_at ? Date.parse(st.issued_at) / 1000 : 0;
      if (have && renewAt <= have.notBefore) {
        if (!this.warned.has(domain)) this.log(`${domain}: --renew-before ${this.opts.renewBeforeDays} days is longer than its certificate lives; it is renewed at most every ${this.opts.checkEvery} s`, { domain, event: "warning" });
        this.warned.add(domain);
        renewAt = Math.max(renewAt, issuedAt + this.opts.checkEvery);
      }
      if (have && !forced && renewAt > nowS()) {
        next = Math.min(next, renewAt * 1000);
        if (st?.state !== "valid" || st.not_after !== iso(have.notAfter)) await this.save(this.valid(domain, have, st?.issued_at ?? null));
        continue;
      }
      const why = forced ? "renewal asked (elbctl acme renew)" : have ? `expires ${iso(have.notAfter)}, within ${this.opts.renewBeforeDays} days` : "no valid certificate";
      this.log(`${domain}: obtaining a certificate (${why})`, { domain, event: "order" });
      await this.save({ ...(st ?? this.valid(domain, undefined, null)), state: "pending", updated_at: iso(nowS()), by: this.id });
      try {
        const s = await this.issue(domain);
        if (forced) await this.store.call(() => this.store.client.delete().key(`${this.keys.renew}${domain}`).exec());
        await this.save(this.valid(domain, s, iso(nowS())));
        this.log(`${domain}: certificate written to ${keyOf(this.store.elbName, certs, domain)}, valid until ${iso(s.notAfter)}`, { domain, event: "issued", not_after: iso(s.notAfter) });
        next = Math.min(next, (s.notAfter - this.opts.renewBeforeDays * 86400) * 1000);
      } catch (e) {
        const failures = (st?.failures ?? 0) + 1;
        const delay = Math.min(this.opts.retryMax, this.opts.retryMin * 2 ** (failures - 1)) * (0.9 + Math.random() * 0.2);
        const at = nowS() + delay;
        await this.save({ ...(this.status.get(domain) as DomainStatus), state: "failed", failures, last_error: firstLine(e), next_attempt_at: iso(at), updated_at: iso(nowS()), by: this.id });
        this.log(`${domain}: failed (${failures} in a row): ${firstLine(e)}; next attempt at ${iso(at)}`, { domain, event: "failed", failures, error: firstLine(e) });
        next = Math.min(next, at * 1000);
      }
    }
    return next;
  }

  private valid(domain: string, s: CertSummary | undefined, issuedAt: string | null): DomainStatus {
    return {
      domain,
      state: "valid",
      not_after: s ? iso(s.notAfter) : null,
      renew_after: s ? iso(s.notAfter - this.opts.renewBeforeDays * 86400) : null,
      issued_at: issuedAt,
      failures: 0,
      last_error: null,
      next_attempt_at: null,
      updated_at: iso(nowS()),
      by: this.id,
    };
  }

  private async save(s: DomainStatus): Promise<void> {
    this.status.set(s.domain, s);
    await this.store.call(() => this.store.client.put(`${this.keys.status}${s.domain}`).value(JSON.stringify(s)).exec());
  }

  /** The certificate /certs/<domain> holds when it is valid and covers the domain. */
  private async current(domain: string): Promise<CertSummary | undefined> {
    const kv = await this.store.get(keyOf(this.store.elbName, certs, domain));
    if (!kv) return undefined;
    const row = readStored(kv, domain);
    return row.summary && row.summary.names.includes(domain) ? row.summary : undefined;
  }

  private async accountKey(): Promise<string> {
    const have = await this.store.get(this.keys.account);
    if (have) return have.value;
    const key = (await acme.crypto.createPrivateEcdsaKey()).toString();
    await this.store.txn([{ key: this.keys.account, modRevision: 0 }], [{ put: this.keys.account, value: key }]);
    return (await this.store.get(this.keys.account))!.value;
  }

  /**
   * The account of our key at the CA, found or created. (acme-client's auto() would send an
   * existing account an update without changes, which CAs may refuse.)
   */
  private async account(client: acme.Client): Promise<void> {
    const contact = this.opts.email ? [`mailto:${this.opts.email}`] : undefined;
    try {
      await client.createAccount({ onlyReturnExisting: true });
    } catch {
      await client.createAccount({ termsOfServiceAgreed: true, ...(contact ? { contact } : {}) });
      return;
    }
    if (contact) await client.updateAccount({ contact });
  }

  private async issue(domain: string): Promise<CertSummary> {
    const client = new acme.Client({ directoryUrl: this.opts.directory, accountKey: await this.accountKey(), backoffMin: 500, backoffMax: 5000, backoffAttempts: 12 });
    await this.account(client);
    const key = await acme.crypto.createPrivateEcdsaKey();
    const [, csr] = await acme.crypto.createCsr({ altNames: [domain] }, key);
    const chain = await client.auto({
      csr,
      email: this.opts.email,
      termsOfServiceAgreed: true,
      challengePriority: ["http-01"],
      // acme-client would fetch http://<domain>/ itself; the nodes are asked instead (publish)
      skipChallengeVerification: true,
      challengeCreateFn: (_authz, challenge, keyAuthorization) => this.publish(domain, challenge, keyAuthorization),
      challengeRemoveFn: (_authz, challenge) => this.unpublish(challenge.token),
    });
    const value = { cert: chain, key: key.toString() };
    const problems: Problem[] = [];
    const summary = readCertificates(value, "", problems);
    if (!summary) throw new Error(`the CA's certificate is refused: ${problems.map((p) => `${p.path}: ${p.error}`).join("; ")}`);
    await this.store.txn([], [{ put: keyOf(this.store.elbName, certs, domain), value: certs.encode(value) }]);
    return summary;
  }

  private async publish(domain: string, challenge: { type: string; token: string }, keyAuthorization: string): Promise<void> {
    if (challenge.type !== "http-01") throw new Error(`the CA offers no http-01 challenge for ${domain}`);
    const key = keyOf(this.store.elbName, challenges, challenge.token);
    await this.store.txn([], [{ put: key, value: keyAuthorization }]);
    this.log(`${domain}: challenge published at ${key}`, { domain, event: "challenge", token: challenge.token });
    await this.waitServed(domain, challenge.token, keyAuthorization);
  }

  private async unpublish(token: string): Promise<void> {
    await this.store.txn([], [{ del: keyOf(this.store.elbName, challenges, token) }]);
  }

  /** Until every node registered under /$ELBNAME/nodes/ answers the token (or nodesWaitMs). */
  private async waitServed(domain: string, token: string, keyAuthorization: string): Promise<void> {
    const { kvs } = await this.store.range(`${this.store.root}nodes/`);
    const addresses = kvs.map((kv) => {
      try {
        return String(JSON.parse(kv.value).address ?? "");
      } catch {
        return "";
      }
    }).filter(Boolean);
    const deadline = Date.now() + this.opts.nodesWaitMs;
    const pending = new Set(addresses);
    while (pending.size > 0 && Date.now() < deadline && !this.stopped) {
      await Promise.all(
        [...pending].map(async (a) => {
          try {
            const base = /^https?:\/\//.test(a) ? a : `http://${a}`;
            const r = await fetch(`${base}/.well-known/acme-challenge/${token}`, { signal: AbortSignal.timeout(1000) });
            if (r.status === 200 && (await r.text()) === keyAuthorization) pending.delete(a);
          } catch {
            /* not yet */
          }
        }),
      );
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 100));
    }
    const served = addresses.length - pending.size;
    this.log(`${domain}: challenge served by ${served} of ${addresses.length} nodes${pending.size ? ` (not by ${[...pending].join(", ")})` : ""}; asking the CA to validate`, { domain, event: "validate", served, nodes: addresses.length });
  }
}
