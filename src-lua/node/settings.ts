// The node's settings, read from the environment once in init_by_lua (nginx passes the
// variables through its `env` directives) and inherited by every worker.
import { Endpoint, parseEndpoints } from "../core/endpoints";
import { Cidr, parseCidrList } from "../core/cidr";
import { regexPolicy } from "../core/rules/regex-lint";
import { ByteAt } from "../core/text";

export interface Settings {
  elbName: string;
  etcd: Endpoint[];
  statsdHost: string | undefined;
  statsdPort: number;
  adminAllow: Cidr[];
  adminToken: string | undefined;
  prefix: string;
  /** names this node in /$ELBNAME/nodes/ (ELB_NODE_ID, default <hostname>:<port>) */
  nodeId: string;
  /** the address other tools reach this node at (ELB_ADVERTISE, default <hostname>:<port>) */
  advertise: string;
}

export const settings: Settings = {
  elbName: "ELB",
  etcd: [],
  statsdHost: undefined,
  statsdPort: 0,
  adminAllow: [],
  adminToken: undefined,
  prefix: "",
  nodeId: "",
  advertise: "",
};

function hostname(): string {
  const [f] = io.open("/proc/sys/kernel/hostname", "r");
  if (f === undefined) return "localhost";
  const name = f.read("*l") as string | undefined;
  f.close();
  return name ?? "localhost";
}

function env(name: string): string | undefined {
  const v = os.getenv(name);
  return v === undefined || v === "" ? undefined : v;
}

/** Reads the environment; returns a message when a variable is malformed. */
export function load(): string | undefined {
  settings.elbName = env("ELBNAME") ?? "ELB";
  if (settings.elbName.indexOf("/") >= 0) return "ELBNAME must not contain '/'";
  const eps = parseEndpoints(env("ETCD") ?? "127.0.0.1:2379");
  if (typeof eps === "string") return `ETCD: ${eps}`;
  settings.etcd = eps;
  const statsd = env("STATSD");
  if (statsd !== undefined) {
    const [m1, m2] = string.match(statsd, "^([^:]+):(%d+)$");
    const port = m2 === undefined ? undefined : tonumber(m2);
    if (m1 === undefined || port === undefined || port < 1 || port > 65535) return `STATSD must be host:port, got "${statsd}"`;
    settings.statsdHost = m1;
    settings.statsdPort = port;
  }
  const cidrs = parseCidrList(env("ELB_ADMIN_ALLOW") ?? "127.0.0.0/8,::1/128", { byteAt: string.byte as unknown as ByteAt, sub: string.sub });
  if (typeof cidrs === "string") return `ELB_ADMIN_ALLOW: ${cidrs}`;
  settings.adminAllow = cidrs;
  regexPolicy.strict = env("ELB_REGEX_STRICT") === "1";
  settings.adminToken = env("ELB_ADMIN_TOKEN");
  settings.prefix = env("ELB_PREFIX") ?? ngx.config.prefix();
  const [port] = string.match(env("ELB_LISTEN") ?? "8080", "(%d+)$");
  settings.advertise = env("ELB_ADVERTISE") ?? `${hostname()}:${port ?? "8080"}`;
  settings.nodeId = env("ELB_NODE_ID") ?? settings.advertise;
  if (settings.nodeId.indexOf("/") >= 0) return "ELB_NODE_ID must not contain '/'";
  return undefined;
}
