// What every command gets: its options, the output, and the etcd store (opened on first use).
import { endpointUrls, Security, Store } from "./etcd";
import { Out } from "./output";

export interface Ctx {
  out: Out;
  opts: Record<string, string | boolean>;
  elbName: string;
  endpoints: string[];
  timeoutMs: number;
  store(): Store;
  closeStore(): void;
  /** Set by commands that run until a signal (register, watch). */
  cleanup?: () => Promise<void>;
  /** The etcd revision of what the command wrote (for --wait); unset when it wrote nothing. */
  wrote?: number;
}

export interface Command {
  /** "domain ls" */
  name: string;
  args: string;
  summary: string;
  details?: string;
  valued?: string[];
  flags?: string[];
  /** flags that may take a value as --name=VALUE (--wait[=SECONDS]) */
  optional?: string[];
  run(ctx: Ctx, pos: string[]): Promise<number | void>;
}

export const GLOBAL_VALUED = ["etcd", "name", "timeout", "etcd-cacert", "etcd-cert", "etcd-key", "user", "password"];
export const GLOBAL_FLAGS = ["json", "help", "color"];

export function makeCtx(out: Out, opts: Record<string, string | boolean>): Ctx {
  const endpoints = endpointUrls(String(opts.etcd ?? process.env.ETCD ?? "127.0.0.1:2379"));
  const elbName = String(opts.name ?? process.env.ELBNAME ?? "ELB");
  const timeoutMs = Math.round(Number(opts.timeout ?? 5) * 1000);
  const pick = (opt: string, env: string) => {
    const v = opts[opt] ?? process.env[env];
    return typeof v === "string" && v !== "" ? v : undefined;
  };
  const security: Security = {
    cacert: pick("etcd-cacert", "ETCD_CACERT"),
    cert: pick("etcd-cert", "ETCD_CERT"),
    key: pick("etcd-key", "ETCD_KEY"),
    user: pick("user", "ETCD_USER"),
    password: pick("password", "ETCD_PASSWORD"),
  };
  let store: Store | undefined;
  return {
    out,
    opts,
    elbName,
    endpoints,
    timeoutMs,
    store() {
      if (!store) store = new Store(endpoints, elbName, timeoutMs, security);
      return store;
    },
    closeStore() {
      store?.close();
    },
  };
}

export function str(ctx: Ctx, name: string): string | undefined {
  const v = ctx.opts[name];
  return typeof v === "string" ? v : undefined;
}
