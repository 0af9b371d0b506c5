// The ELB nodes: their records under /$ELBNAME/nodes/, their admin API (for health), and
// --wait: the wait until every live node applied a change.
import { parseKey } from "../../src-lua/core/kinds/index";
import { Ctx, str } from "./cli";
import { CliError } from "./etcd";
import { paint } from "./output";

export interface NodeRecord {
  id: string;
  address: string;
  version?: string;
  started_at?: number;
  revision?: number;
  watched_revision?: number;
  pid?: number;
  key: string;
  lease: string;
}

export async function readNodes(ctx: Ctx): Promise<NodeRecord[]> {
  const { kvs } = await ctx.store().range(`${ctx.store().root}nodes/`);
  const out: NodeRecord[] = [];
  for (const kv of kvs) {
    let v: any;
    try {
      v = JSON.parse(kv.value);
    } catch {
      v = {};
    }
    out.push({ ...v, id: v.id ?? kv.key.split("/").pop(), address: v.address ?? "", key: kv.key, lease: kv.lease });
  }
  return out;
}

function baseUrl(address: string): string {
  return /^https?:\/\//.test(address) ? address.replace(/\/+$/, "") : `http://${address}`;
}

/** GET /__erulb__/<resource> from the first node that answers: --elb URLs, else the fleet. */
export async function fromAnyNode(ctx: Ctx, resource: string): Promise<{ node: string; body: any } | undefined> {
  const given = str(ctx, "elb");
  const addresses = given ? given.split(",").map((s) => s.trim()).filter(Boolean) : (await readNodes(ctx)).map((n) => n.address).filter(Boolean);
  const token = str(ctx, "token") ?? process.env.ELB_ADMIN_TOKEN;
  for (const a of addresses) {
    try {
      const r = await fetch(`${baseUrl(a)}/__erulb__/${resource}`, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(1500),
      });
      if (r.status === 200) return { node: a, body: await r.json() };
    } catch {
      /* next node */
    }
  }
  return undefined;
}

/** The mod revision of the newest routing key (rules, upstreams, policies, ...) in etcd; 0 when none. */
export async function newestRoutingRevision(ctx: Ctx): Promise<number> {
  const store = ctx.store();
  const { kvs } = await store.range(store.root);
  let newest = 0;
  for (const kv of kvs) if (parseKey(ctx.elbName, kv.key) && kv.modRevision > newest) newest = kv.modRevision;
  return newest;
}

/** Exit status of --wait when some node had not applied the change in time. */
export const NOT_CONFIRMED = 4;
const DEFAULT_WAIT = 30;

/**
 * --wait[=SECONDS]: polls /$ELBNAME/nodes/ until every live node (a key there: its lease is
 * alive) says it applied the revision the command wrote (ctx.wrote; when it wrote nothing, the
 * newest routing change in etcd). A node whose key expires meanwhile is no longer waited for.
 */
export async function confirmFleet(ctx: Ctx, wait: string | boolean): Promise<number> {
  const seconds = wait === true ? DEFAULT_WAIT : Number(wait);
  if (!Number.isFinite(seconds) || seconds < 0) throw new CliError(`--wait takes a number of seconds (--wait=30), got "${wait}"`, 2);
  const revision = ctx.wrote ?? (await newestRoutingRevision(ctx));
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const nodes = await readNodes(ctx);
    const pending = nodes.filter((n) => (n.revision ?? 0) < revision);
    const applied = nodes.filter((n) => (n.revision ?? 0) >= revision).map((n) => n.id);
    if (pending.length === 0 || Date.now() >= deadline) {
      const rows = pending.map((n) => ({ id: n.id, address: n.address, revision: n.revision ?? null }));
      ctx.out.print(
        () => {
          if (pending.length === 0) {
            ctx.out.line(nodes.length === 0 ? paint(ctx.out, "yellow", `no ELB node is registered under ${ctx.store().root}nodes/: nothing to wait for`) : paint(ctx.out, "green", `revision ${revision} applied on every node (${nodes.length}): ${applied.join(", ")}`));
          }
        },
        { fleet: { revision, confirmed: pending.length === 0, applied, pending: rows } },
      );
      if (pending.length === 0) return 0;
      const names = pending.map((n) => `${n.id} (${n.address || "no address"}, at revision ${n.revision ?? "?"})`);
      throw new CliError(`revision ${revision} is written, but not applied within ${seconds} s by ${pending.length} of ${nodes.length} node${nodes.length > 1 ? "s" : ""}: ${names.join(", ")}`, NOT_CONFIRMED);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
