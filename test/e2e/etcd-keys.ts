// What etcd holds of a node's configuration, for suites that check a refusal changed nothing.
import { etcdctl } from "./harness";

/** Every configuration key under /<elbName>/ with the revision it was last written at (the nodes' own registry under nodes/ is left out: it changes on its own). */
export async function configRevisions(endpoint: string, elbName = "ELB"): Promise<Record<string, number>> {
  const out = JSON.parse((await etcdctl(endpoint, "get", `/${elbName}/`, "--prefix", "-w", "json")).stdout);
  const revs: Record<string, number> = {};
  for (const kv of out.kvs ?? []) {
    const key = Buffer.from(kv.key, "base64").toString();
    if (!key.startsWith(`/${elbName}/nodes/`)) revs[key] = kv.mod_revision;
  }
  return revs;
}
