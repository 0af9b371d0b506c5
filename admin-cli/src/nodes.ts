// The ELB nodes: their records under /$ELBNAME/nodes/ and their admin API, for health.
import { Ctx, str } from "./cli";

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
