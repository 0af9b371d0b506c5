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
  /** etcd's --max-request-bytes: a change whose transaction is larger is refused before it is sent */
  etcdMaxRequestBytes: number;
  /** admin writes this node handles at once; more get 429 (ELB_ADMIN_MAX_WRITES) */
  adminMaxWrites: number;
  /** https:// endpoints: the client certificate and its key, as PEM text (ETCD_CERT, ETCD_KEY) */
  etcdCert: string | undefined;
  etcdKey: string | undefined;
  /** etcd authentication (ETCD_USER, ETCD_PASSWORD) */
  etcdUser: string | undefined;
  etcdPassword: string | undefined;
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
  etcdMaxRequestBytes: 1572864,
  adminMaxWrites: 16,
  etcdCert: undefined,
  etcdKey: undefined,
  etcdUser: undefined,
  etcdPassword: undefined,
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

/** A whole number from the environment in [min, max], or a message. */
function whole(name: string, fallback: number, min: number, max: number): number | string {
  const v = env(name);
  if (v === undefined) return fallback;
  const n = tonumber(v);
  if (n === undefined || n !== math.floor(n) || n < min || n > max) return `${name} must be a whole number from ${min} to ${max}, got "${v}"`;
  return n;
}

/** The text of a file named by a variable (read in the master, which may be root), or a message. */
function fileText(name: string): LuaMultiReturn<[string | undefined, string | undefined]> {
  const file = env(name);
  if (file === undefined) return $multi(undefined, undefined);
  const [f, err] = io.open(file, "rb");
  if (f === undefined) return $multi(undefined, `${name}: cannot read ${file}: ${err}`);
  const text = f.read("*a") as string | undefined;
  f.close();
  if (text === undefined || text === "") return $multi(undefined, `${name}: ${file} is empty`);
  return $multi(text, undefined);
}

/** The etcd settings beyond the endpoints: TLS client certificate, authentication, limits. */
function loadEtcd(): string | undefined {
  const bytes = whole("ELB_ETCD_MAX_REQUEST_BYTES", 1572864, 65536, 1073741824);
  if (typeof bytes === "string") return bytes;
  settings.etcdMaxRequestBytes = bytes;
  const [cert, cerr] = fileText("ETCD_CERT");
  if (cerr !== undefined) return cerr;
  const [key, kerr] = fileText("ETCD_KEY");
  if (kerr !== undefined) return kerr;
  if ((cert === undefined) !== (key === undefined)) return "ETCD_CERT and ETCD_KEY go together: set both or neither";
  const tls = settings.etcd[0].tls;
  if ((cert !== undefined || env("ETCD_CACERT") !== undefined) && !tls) return "ETCD_CACERT, ETCD_CERT and ETCD_KEY need https:// endpoints in ETCD";
  settings.etcdCert = cert;
  settings.etcdKey = key;
  settings.etcdUser = env("ETCD_USER");
  settings.etcdPassword = env("ETCD_PASSWORD");
  if ((settings.etcdUser === undefined) !== (settings.etcdPassword === undefined)) return "ETCD_USER and ETCD_PASSWORD go together: set both or neither";
  return undefined;
}

/** Reads the environment; returns a message when a variable is malformed. */
export function load(): string | undefined {
  settings.elbName = env("ELBNAME") ?? "ELB";
  if (settings.elbName.indexOf("/") >= 0) return "ELBNAME must not contain '/'";
  const eps = parseEndpoints(env("ETCD") ?? "127.0.0.1:2379");
  if (typeof eps === "string") return `ETCD: ${eps}`;
  settings.etcd = eps;
  const eerr = loadEtcd();
  if (eerr !== undefined) return eerr;
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
  const writes = whole("ELB_ADMIN_MAX_WRITES", 16, 1, 1000);
  if (typeof writes === "string") return writes;
  settings.adminMaxWrites = writes;
  settings.prefix = env("ELB_PREFIX") ?? ngx.config.prefix();
  const [port] = string.match(env("ELB_LISTEN") ?? "8080", "(%d+)$");
  settings.advertise = env("ELB_ADVERTISE") ?? `${hostname()}:${port ?? "8080"}`;
  settings.nodeId = env("ELB_NODE_ID") ?? settings.advertise;
  if (settings.nodeId.indexOf("/") >= 0) return "ELB_NODE_ID must not contain '/'";
  return undefined;
}
