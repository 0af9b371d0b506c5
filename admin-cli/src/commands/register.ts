// register: a service announces itself. The server key lives under an etcd lease kept alive
// while this process runs; SIGTERM/SIGINT remove it at once, any other death lets the lease
// expire within --ttl seconds.
import { keyOf, servers } from "../../../src-lua/core/kinds/index";
import { Command, str } from "../cli";
import { CliError } from "../etcd";
import { checkMember, checkName, Problem } from "../model";
import { problemLines } from "../output";

export const registerCommands: Command[] = [
  {
    name: "register",
    args: "<upstream> <host:port> [--params '...'] [--ttl 10]",
    summary: "hold the server in the upstream while this command runs (foreground, for service managers)",
    details: "Puts /$ELBNAME/upstreams/<upstream>/<host:port> under an etcd lease of --ttl seconds (default 10) and keeps it alive. SIGTERM or SIGINT removes the key at once and exits 0; if the process dies otherwise, etcd removes the key within the TTL. If the lease is lost (etcd unreachable longer than the TTL), it is granted again and the key written again.",
    valued: ["params", "ttl"],
    async run(ctx, [upstream, addr]) {
      if (!upstream || !addr) throw new CliError("usage: elbctl register <upstream> <host:port> [--params ...] [--ttl 10]", 2);
      const params = str(ctx, "params") ?? "";
      const ttl = Number(str(ctx, "ttl") ?? 10);
      if (!Number.isInteger(ttl) || ttl < 2 || ttl > 3600) throw new CliError("--ttl must be whole seconds from 2 to 3600", 2);
      const key = keyOf(ctx.elbName, servers, upstream, addr);
      const problems: Problem[] = [];
      checkName(servers, upstream, "", problems);
      checkMember(servers, addr, params, "", problems);
      if (problems.length > 0) throw new CliError(`invalid server ${key}, nothing written:\n${problemLines(key, problems)}`);
      const store = ctx.store();
      const before = await store.get(key);
      if (before && before.lease === "0") ctx.out.err(`elbctl: note: ${key} was already there ("${before.value}"), not under a lease; it now is, and leaves when this command stops`);
      const event = (what: string, extra: Record<string, unknown> = {}) =>
        ctx.out.print(() => ctx.out.line(`${new Date().toISOString()} ${what}`), { event: what.split(" ")[0], key, ...extra });

      let stopping = false;
      let lease = store.client.lease(ttl, { autoKeepAlive: true });
      const hold = async () => {
        await store.call(() => lease.put(key).value(params).exec());
        const id = await store.call(() => lease.grant());
        event(`registered ${key} = "${params}" (lease ${id}, ttl ${ttl}s); SIGTERM/SIGINT removes it`, { params, lease: id, ttl });
      };
      const onLost = async (err: Error) => {
        if (stopping) return;
        event(`lease lost (${err.message.split("\n")[0]}); registering again`);
        for (;;) {
          if (stopping) return;
          try {
            lease = store.client.lease(ttl, { autoKeepAlive: true });
            lease.on("lost", onLost);
            await hold();
            return;
          } catch (e) {
            event(`cannot register yet: ${(e as Error).message.split("\n")[0]}`);
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
      };
      lease.on("lost", onLost);

      // Signal handlers first: a SIGTERM that arrives while registering still cleans up.
      let resolveDone: (code: number) => void = () => undefined;
      const done = new Promise<number>((r) => (resolveDone = r));
      let holding: Promise<unknown> = Promise.resolve();
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        await holding.catch(() => undefined);
        try {
          await store.call(() => store.client.delete().key(key).exec());
          await store.call(() => lease.revoke()).catch(() => undefined);
          event(`${signal}: removed ${key}`);
          resolveDone(0);
        } catch (e) {
          ctx.out.err(`elbctl: ${signal}: could not remove ${key} (${(e as Error).message}); it expires within ${ttl}s`);
          resolveDone(1);
        }
      };
      process.on("SIGTERM", () => void stop("SIGTERM"));
      process.on("SIGINT", () => void stop("SIGINT"));
      holding = hold();
      try {
        await holding;
      } catch (e) {
        if (!stopping) throw e;
      }
      return done;
    },
  },
];
