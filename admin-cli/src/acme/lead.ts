// One active `elbctl acme` per fleet: the one whose id holds /$ELBNAME/acme/leader, a key under
// an etcd lease it keeps alive. The others stand by: they watch the key and try again when it
// goes (a clean stop deletes it; a dead holder's lease expires within the TTL).
import type { Etcd3, Lease } from "etcd3";

export interface Lead {
  /** resolves once this process leads; rejects when stop() was called first */
  acquired: Promise<void>;
  /** resolves when the lead is lost (lease lost, key taken away) */
  lost: Promise<string>;
  /** gives the lead up (deletes the key, revokes the lease) */
  stop(): Promise<void>;
}

export function campaign(client: Etcd3, key: string, id: string, ttl: number, log: (msg: string) => void): Lead {
  let stopped = false;
  let lease: Lease | undefined;
  let wake: () => void = () => undefined;
  let onLost: (why: string) => void = () => undefined;
  const lost = new Promise<string>((res) => (onLost = res));

  const tryOnce = async (): Promise<boolean> => {
    lease = client.lease(ttl, { autoKeepAlive: true });
    const leaseId = await lease.grant();
    const r = await client.if(key, "Create", "==", 0).then(client.put(key).value(id).lease(leaseId)).commit();
    if (r.succeeded) {
      lease.on("lost", (e) => onLost(`lease lost: ${e.message.split("\n")[0]}`));
      return true;
    }
    await lease.revoke().catch(() => undefined);
    lease = undefined;
    return false;
  };

  const acquired = (async () => {
    let announced = false;
    const watcher = await client.watch().key(key).create();
    watcher.on("delete", () => wake());
    try {
      for (;;) {
        if (stopped) throw new Error("stopped");
        try {
          if (await tryOnce()) break;
          if (!announced) log(`standing by: ${(await client.get(key).string()) ?? "another process"} leads (${key})`);
          announced = true;
        } catch (e) {
          log(`cannot reach etcd to take the lead: ${(e as Error).message.split("\n")[0]}`);
        }
        await new Promise<void>((res) => {
          wake = res;
          setTimeout(res, Math.max(1000, (ttl * 1000) / 3));
        });
      }
    } finally {
      await watcher.cancel().catch(() => undefined);
    }
    const guard = await client.watch().key(key).create();
    guard.on("delete", () => onLost(`${key} was deleted`));
    guard.on("put", (kv) => {
      if (kv.value.toString() !== id) onLost(`${key} now holds ${kv.value.toString()}`);
    });
    void lost.then(() => guard.cancel().catch(() => undefined));
  })();

  return {
    acquired,
    lost,
    async stop() {
      stopped = true;
      wake();
      if (lease) {
        const l = lease;
        lease = undefined;
        await client.if(key, "Value", "==", id).then(client.delete().key(key)).commit().catch(() => undefined);
        await l.revoke().catch(() => undefined);
      }
      onLost("stopped");
    },
  };
}
