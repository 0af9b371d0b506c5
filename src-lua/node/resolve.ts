// Host names in upstream servers are resolved when a change is applied (the balancer phase
// can only connect to IP addresses). getaddrinfo through the FFI: it reads /etc/hosts and
// the system resolver; it blocks the worker while it runs, so it is used only off the
// request path and the answers are cached for a minute.
import * as ffi from "ffi";

ffi.cdef(`
struct elb_addrinfo {
  int ai_flags; int ai_family; int ai_socktype; int ai_protocol;
  unsigned int ai_addrlen; void *ai_addr; char *ai_canonname; struct elb_addrinfo *ai_next;
};
int getaddrinfo(const char *node, const char *service, const struct elb_addrinfo *hints, struct elb_addrinfo **res);
void freeaddrinfo(struct elb_addrinfo *res);
const char *inet_ntop(int af, const void *src, char *dst, unsigned int size);
`);

const AF_INET = 2;
const SOCK_STREAM = 1;
const cache = new LuaTable<string, { ip: string; at: number }>();

export function resolve(host: string): LuaMultiReturn<[string, undefined] | [undefined, string]> {
  const hit = cache.get(host);
  if (hit !== undefined && ngx.now() - hit.at < 60) return $multi(hit.ip, undefined);
  const hints = ffi.new("struct elb_addrinfo");
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  const res = ffi.new("struct elb_addrinfo *[1]");
  const rc = ffi.C.getaddrinfo(host, undefined, hints, res);
  if (rc !== 0 || res[0] === undefined) return $multi(undefined, `cannot resolve ${host} (getaddrinfo error ${rc})`);
  const buf = ffi.new("char[64]");
  // sockaddr_in: family(2) port(2) addr(4)
  const sin = ffi.cast("const unsigned char *", res[0].ai_addr);
  ffi.C.inet_ntop(AF_INET, sin + 4, buf, 64);
  const ip = ffi.string(buf);
  ffi.C.freeaddrinfo(res[0]);
  cache.set(host, { ip, at: ngx.now() });
  return $multi(ip, undefined);
}
