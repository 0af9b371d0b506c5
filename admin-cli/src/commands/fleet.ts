// status: the ELB nodes from /$ELBNAME/nodes/ and how far each is behind etcd.
// watch: every change under /$ELBNAME/, one line each, as it happens.
import { checkStored, parseKey } from "../../../src-lua/core/kinds/index";
import { Command, str } from "../cli";
import "../host";
import { readNodes } from "../nodes";
import { paint, table } from "../output";

export const fleetCommands: Command[] = [
  {
    name: "status",
    args: "",
    summary: "the ELB nodes (from /$ELBNAME/nodes/): address, version, applied revision, lag behind etcd",
    details: "lag = the newest mod revision of a routing key (rules/, upstreams/, policies/) minus the revision the node says it applied; 0 means up to date.",
    async run(ctx) {
      const store = ctx.store();
      const nodes = await readNodes(ctx);
      const { kvs, revision } = await store.range(store.root);
      let newest = 0;
      for (const kv of kvs) if (parseKey(ctx.elbName, kv.key) && kv.modRevision > newest) newest = kv.modRevision;
      const rows = nodes.map((n) => ({
        id: n.id,
        address: n.address,
        version: n.version ?? null,
        revision: n.revision ?? null,
        watched_revision: n.watched_revision ?? null,
        lag: typeof n.revision === "number" ? Math.max(0, newest - n.revision) : null,
        started_at: n.started_at ?? null,
        pid: n.pid ?? null,
      }));
      ctx.out.print(
        () => {
          ctx.out.line(`etcd ${ctx.endpoints.join(",")}: revision ${revision}, newest routing change ${newest}`);
          if (rows.length === 0) return ctx.out.line(`no ELB node is registered under ${store.root}nodes/ (is one running with ELBNAME=${ctx.elbName}?)`);
          table(
            ctx.out,
            ["NODE", "ADDRESS", "VERSION", "REVISION", "LAG", "STARTED", "PID"],
            rows.map((r) => [
              r.id,
              r.address,
              r.version ?? "?",
              String(r.revision ?? "?"),
              r.lag === null ? "?" : r.lag === 0 ? paint(ctx.out, "green", "0") : paint(ctx.out, "yellow", String(r.lag)),
              r.started_at ? new Date(r.started_at * 1000).toISOString().replace(/\.\d+Z$/, "Z") : "?",
              String(r.pid ?? "?"),
            ]),
          );
        },
        { etcdRevision: revision, newestRoutingRevision: newest, nodes: rows },
      );
    },
  },
  {
    name: "watch",
    args: "[--count N]",
    summary: "print every change under /$ELBNAME/ as it happens, one line each (Ctrl-C to stop)",
    details: "Each line: time, revision, put/delete, what (domain, server, policy, node) and the value; a value the engine would refuse is marked INVALID with the reason. --count N: stop after N changes.",
    valued: ["count"],
    async run(ctx) {
      const store = ctx.store();
      const limit = str(ctx, "count") ? Number(str(ctx, "count")) : Infinity;
      let seen = 0;
      const watcher = await store.call(() => store.client.watch().prefix(store.root).create());
      ctx.out.err(`watching ${store.root} on ${ctx.endpoints.join(",")} (Ctrl-C to stop)`);
      return new Promise<number>((resolve) => {
        const done = async (code: number) => {
          await watcher.cancel().catch(() => undefined);
          resolve(code);
        };
        const line = (type: "put" | "delete", kv: any) => {
          const key = kv.key.toString();
          const value = type === "put" ? kv.value.toString() : undefined;
          const ref = parseKey(ctx.elbName, key);
          let what = key.substring(store.root.length);
          let kind = "other";
          let invalid = "";
          if (ref) {
            kind = ref.kind.id;
            what = ref.kind.grouped ? `${kind} ${ref.name} ${ref.member}` : `${kind} ${ref.name}`;
            // the engine's own check of a value at this key; problems are shown relative to it
            if (value !== undefined) invalid = checkStored(ctx.elbName, key, value).map((p) => `${p.path.substring(key.length) || "/"}: ${p.error}`).join("; ");
          } else if (key.startsWith(`${store.root}nodes/`)) {
            kind = "node";
            what = `node ${key.substring(store.root.length + 6)}`;
          }
          const revision = Number(kv.mod_revision);
          ctx.out.print(
            () => {
              const t = new Date().toISOString().substring(11, 23);
              const verb = type === "put" ? paint(ctx.out, "green", "put   ") : paint(ctx.out, "red", "delete");
              const shown = value === undefined ? "" : value === "" ? ' ""' : ` ${value.length > 120 ? `${value.substring(0, 117)}...` : value}`;
              ctx.out.line(`${t} rev ${revision} ${verb} ${what}${kind === "node" ? "" : shown}${invalid ? paint(ctx.out, "red", ` INVALID: ${invalid}`) : ""}`);
            },
            { revision, type, kind, key, value: value ?? null, invalid: invalid || null },
          );
          seen++;
          if (seen >= limit) void done(0);
        };
        watcher.on("put", (kv) => line("put", kv));
        watcher.on("delete", (kv) => line("delete", kv));
        let lost = false;
        watcher.on("disconnected", () => {
          if (!lost) ctx.out.err(`elbctl: watch: lost etcd at ${ctx.endpoints.join(",")}, reconnecting (no change is missed: the watch resumes at the next revision)`);
          lost = true;
        });
        watcher.on("connected", () => {
          if (lost) ctx.out.err("elbctl: watch: reconnected");
          lost = false;
        });
        process.on("SIGTERM", () => void done(0));
        process.on("SIGINT", () => void done(0));
      });
    },
  },
];
