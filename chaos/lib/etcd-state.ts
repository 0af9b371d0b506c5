// The configuration as etcd holds it, read through its JSON gateway: every key under
// /$ELBNAME/ (the nodes' own registry left out) with its value (as bytes) and mod revision.
import { request } from "../../test/harness/index.mjs";

export interface Stored {
  value: Buffer;
  mod: number;
}

export type State = Map<string, Stored>;

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");

function prefixEnd(prefix: string): string {
  const end = Buffer.from(prefix);
  end[end.length - 1] += 1;
  return end.toString("base64");
}

async function gateway(endpoint: string, path: string, body: unknown): Promise<any> {
  const [host, port] = endpoint.split(":");
  const r = await request({ host, port: Number(port), path, method: "POST", body, timeoutMs: 30000, keepalive: true });
  if (r.status !== 200) throw new Error(`etcd ${path}: ${r.status} ${r.body.slice(0, 300)}`);
  return r.json;
}

/** Every configuration key under /<elbName>/ (not nodes/). Keys are read as latin1 (bytes). */
export async function readState(endpoint: string, elbName: string): Promise<State> {
  const prefix = `/${elbName}/`;
  const j = await gateway(endpoint, "/v3/kv/range", { key: b64(prefix), range_end: prefixEnd(prefix) });
  const out: State = new Map();
  for (const kv of j.kvs ?? []) {
    const key = Buffer.from(kv.key, "base64").toString("latin1");
    if (key.startsWith(`${prefix}nodes/`)) continue;
    out.set(key, { value: Buffer.from(kv.value ?? "", "base64"), mod: Number(kv.mod_revision) });
  }
  return out;
}

/** The keys whose value or revision differs between two states. */
export function changedKeys(a: State, b: State): string[] {
  const out = new Set<string>();
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || w.mod !== v.mod) out.add(k);
  }
  for (const k of b.keys()) if (!a.has(k)) out.add(k);
  return [...out].sort();
}

/** Puts one key (bytes allowed in key and value). */
export async function putRaw(endpoint: string, key: string | Buffer, value: string | Buffer): Promise<number> {
  const j = await gateway(endpoint, "/v3/kv/put", { key: b64(key), value: b64(value) });
  return Number(j.header.revision);
}

export async function deleteRaw(endpoint: string, key: string | Buffer, prefix = false): Promise<number> {
  const body: Record<string, string> = { key: b64(key) };
  if (prefix) body.range_end = prefixEnd(Buffer.from(key).toString("latin1"));
  const j = await gateway(endpoint, "/v3/kv/deleterange", body);
  return Number(j.header.revision);
}

/** Puts many keys in transactions of `per` puts. */
export async function putAll(endpoint: string, kvs: [string, string][], per = 100): Promise<number> {
  let rev = 0;
  for (let i = 0; i < kvs.length; i += per) {
    const success = kvs.slice(i, i + per).map(([k, v]) => ({ request_put: { key: b64(k), value: b64(v) } }));
    const j = await gateway(endpoint, "/v3/kv/txn", { success });
    rev = Number(j.header.revision);
  }
  return rev;
}
