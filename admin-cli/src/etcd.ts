// The etcd side of elbctl: the connection (ETCD / --etcd, ELBNAME / --name), reads with their
// revisions, and transactions built from plain put/delete lists with compares.
import { readFileSync } from "node:fs";
import type { Etcd3, IOptions } from "etcd3";
import { endpointUrl, parseEndpoints } from "../../src-lua/core/endpoints";

// etcd3 (gRPC, protobuf) takes half a second to load: only commands that talk to etcd pay it.
let Etcd3Class: typeof Etcd3 | undefined;
export async function loadEtcd3(): Promise<void> {
  Etcd3Class ??= (await import("etcd3")).Etcd3;
}

export class CliError extends Error {
  constructor(message: string, public code = 1) {
    super(message);
  }
}

export interface Kv {
  key: string;
  value: string;
  modRevision: number;
  createRevision: number;
  lease: string;
}

export type Op = { put: string; value: string; lease?: string } | { del: string; prefix?: boolean };
/** The key must hold this mod revision (0: the key must not exist). */
export interface Guard {
  key: string;
  modRevision: number;
}

export const MAX_TXN_OPS_DEFAULT = 128;
/** etcd's default --max-request-bytes: a larger transaction is refused before it is sent. */
export const MAX_REQUEST_BYTES_DEFAULT = 1572864;

/** How elbctl proves itself to etcd: files (PEM) for TLS, a user for etcd auth. */
export interface Security {
  cacert?: string;
  cert?: string;
  key?: string;
  user?: string;
  password?: string;
}

function readPem(what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new CliError(`${what}: cannot read ${file}: ${(e as Error).message}`, 2);
  }
}

/** etcd3's options for `security`; https:// endpoints get TLS (the system's CAs unless cacert). */
export function securityOptions(endpoints: string[], sec: Security): Partial<IOptions> {
  const out: Partial<IOptions> = {};
  const tls = endpoints.some((e) => e.startsWith("https://"));
  if ((sec.cert === undefined) !== (sec.key === undefined)) throw new CliError("--etcd-cert and --etcd-key (ETCD_CERT, ETCD_KEY) go together", 2);
  if (!tls && (sec.cacert || sec.cert)) throw new CliError("--etcd-cacert, --etcd-cert and --etcd-key need https:// endpoints in --etcd / ETCD", 2);
  if (tls) {
    out.credentials = {
      rootCertificate: sec.cacert ? readPem("--etcd-cacert", sec.cacert) : (undefined as unknown as Buffer),
      privateKey: sec.key ? readPem("--etcd-key", sec.key) : undefined,
      certChain: sec.cert ? readPem("--etcd-cert", sec.cert) : undefined,
    };
  }
  if ((sec.user === undefined) !== (sec.password === undefined)) throw new CliError("--user and --password (ETCD_USER, ETCD_PASSWORD) go together", 2);
  if (sec.user !== undefined) out.auth = { username: sec.user, password: sec.password ?? "" };
  return out;
}

export class Store {
  readonly client: Etcd3;
  constructor(
    readonly endpoints: string[],
    readonly elbName: string,
    readonly timeoutMs: number,
    security: Security = {},
  ) {
    if (!Etcd3Class) throw new Error("loadEtcd3() first");
    this.client = new Etcd3Class({
      hosts: endpoints,
      dialTimeout: timeoutMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      ...securityOptions(endpoints, security),
    });
  }

  get root(): string {
    return `/${this.elbName}/`;
  }

  /** Names the endpoints on connection failures, so the operator knows what was tried. */
  wrap(e: unknown): Error {
    if (e instanceof CliError) return e;
    const msg = e instanceof Error ? e.message : String(e);
    const name = e instanceof Error ? e.constructor.name : "";
    if (/Authentication failed|invalid auth|user name|permission denied/i.test(msg)) {
      return new CliError(`etcd at ${this.endpoints.join(", ")} refused elbctl: ${msg.split("\n")[0]} (check --user/--password, ETCD_USER/ETCD_PASSWORD, and the user's role)`, 3);
    }
    if (/Unavailable|Deadline|Connect|ECONNREFUSED|No connection|timed out|UNAVAILABLE|DEADLINE/i.test(`${name} ${msg}`)) {
      return new CliError(`cannot reach etcd at ${this.endpoints.join(", ")} (${msg.split("\n")[0]}); is it running? Set ETCD or --etcd to its host:port`, 3);
    }
    return new CliError(`etcd at ${this.endpoints.join(", ")} failed: ${msg.split("\n")[0]}`, 3);
  }

  async call<T>(f: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        f(),
        new Promise<T>((_, rej) => {
          timer = setTimeout(() => rej(new Error(`timed out after ${this.timeoutMs} ms`)), this.timeoutMs + 500);
        }),
      ]);
    } catch (e) {
      throw this.wrap(e);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every key under `prefix`, sorted, with the store's revision at the time of the read. */
  async range(prefix: string): Promise<{ kvs: Kv[]; revision: number }> {
    const res = await this.call(() => this.client.getAll().prefix(prefix).sort("Key", "Ascend").exec());
    const kvs = res.kvs.map((kv) => ({
      key: kv.key.toString(),
      value: kv.value.toString(),
      modRevision: Number(kv.mod_revision),
      createRevision: Number(kv.create_revision),
      lease: String(kv.lease ?? "0"),
    }));
    return { kvs, revision: Number(res.header.revision) };
  }

  async get(key: string): Promise<Kv | undefined> {
    const res = await this.call(() => this.client.get(key).exec());
    const kv = res.kvs[0];
    if (!kv) return undefined;
    return { key, value: kv.value.toString(), modRevision: Number(kv.mod_revision), createRevision: Number(kv.create_revision), lease: String(kv.lease ?? "0") };
  }

  /**
   * One transaction: the guards must hold, then every op is applied. Returns false when a
   * guard failed (someone changed those keys meanwhile), the revision otherwise.
   */
  async txn(guards: Guard[], ops: Op[], maxOps = MAX_TXN_OPS_DEFAULT): Promise<number | false> {
    if (ops.length > maxOps || guards.length > maxOps) {
      throw new CliError(
        `this change needs ${Math.max(ops.length, guards.length)} etcd operations; one transaction holds at most ${maxOps} (etcd's --max-txn-ops, default 128). ` +
          `Split it into smaller changes, or raise --max-txn-ops on etcd and pass --max-ops N`,
      );
    }
    const bytes = ops.reduce((n, op) => n + Buffer.byteLength("put" in op ? op.put : op.del) + ("put" in op ? Buffer.byteLength(op.value) : 0) + 32, 0) + guards.reduce((n, g) => n + Buffer.byteLength(g.key) + 32, 0);
    const maxBytes = Number(process.env.ELB_ETCD_MAX_REQUEST_BYTES || MAX_REQUEST_BYTES_DEFAULT);
    if (bytes > maxBytes) {
      throw new CliError(
        `this change is about ${bytes} bytes; one etcd transaction holds at most ${maxBytes} (etcd's --max-request-bytes, default 1.5 MiB). ` +
          `Split it into smaller changes, or raise --max-request-bytes on etcd and set ELB_ETCD_MAX_REQUEST_BYTES`,
      );
    }
    const enc = (s: string) => Buffer.from(s);
    const compare = guards.map((g) => ({
      key: enc(g.key),
      target: 2, // MOD
      result: 0, // EQUAL
      mod_revision: String(g.modRevision),
    }));
    const success = ops.map((op) =>
      "put" in op
        ? { request_put: { key: enc(op.put), value: enc(op.value), lease: op.lease ?? "0" } }
        : { request_delete_range: { key: enc(op.del), range_end: op.prefix ? prefixEnd(op.del) : undefined } },
    );
    const res = await this.call(() => this.client.kv.txn({ compare, success, failure: [] } as any));
    return res.succeeded ? Number(res.header.revision) : false;
  }

  close(): void {
    try {
      this.client.close();
    } catch {
      /* closed */
    }
  }
}

export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i]++;
      return out;
    }
  }
  return Buffer.from([0]);
}

/** The ETCD setting (or --etcd) as URLs for etcd3, read by the engine's own parser. */
export function endpointUrls(spec: string): string[] {
  const eps = parseEndpoints(spec);
  if (typeof eps === "string") throw new CliError(`ETCD / --etcd: ${eps}`, 2);
  return eps.map(endpointUrl);
}

/** Runs `attempt` again (up to 5 times) while a guard fails because of a concurrent writer. */
export async function retryTxn(what: string, attempt: () => Promise<number | false>): Promise<number> {
  for (let i = 0; i < 5; i++) {
    const rev = await attempt();
    if (rev !== false) return rev;
    await new Promise((r) => setTimeout(r, 20 * (i + 1)));
  }
  throw new CliError(`${what}: the same keys kept changing under five attempts in a row; nothing was written. Try again`);
}
