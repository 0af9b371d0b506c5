// Who may use the management API, and how many writes it takes at once on this node.
//   - the caller's address must be in ELB_ADMIN_ALLOW (the peer address: forwarded-for headers
//     are not read, so they cannot claim another one);
//   - with ELB_ADMIN_TOKEN, "Authorization: Bearer <token>", compared in constant time (HMACs of
//     both under a key made at start, compared byte by byte without stopping early);
//   - at most ELB_ADMIN_MAX_WRITES writes at once (slots in the elb_locks dict, each with a TTL
//     so that a worker that dies mid-write does not keep its slot).
import { allowed } from "../core/cidr";
import { ByteAt } from "../core/text";
import { settings } from "../node/settings";

const locks = ngx.shared.elb_locks!;
const SLOT_TTL = 60;

let hmacKey: string | undefined = undefined;

function key(): string {
  if (hmacKey === undefined) {
    const [f] = io.open("/dev/urandom", "rb");
    const random = f === undefined ? undefined : (f.read(32) as string | undefined);
    if (f !== undefined) f.close();
    hmacKey = random ?? `${ngx.now()}|${ngx.worker.pid()}|${math.random()}`;
  }
  return hmacKey;
}

/** a === b, in a time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const k = key();
  const x = ngx.hmac_sha1(k, a);
  const y = ngx.hmac_sha1(k, b);
  let diff = 0;
  for (let i = 1; i <= 20; i++) diff = diff + (string.byte(x, i) === string.byte(y, i) ? 0 : 1);
  return diff === 0;
}

/** The token of an "Authorization: Bearer <token>" header (the scheme in any case). */
function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const [scheme, token] = string.match(header, "^(%a+) +(%S+)$");
  if (scheme === undefined || string.lower(scheme) !== "bearer") return undefined;
  return token;
}

/** Why the caller's address may not reach the API (a 403 message), or undefined. */
export function clientRefusal(): string | undefined {
  const remote = ngx.var.remote_addr ?? "";
  if (!allowed(remote, settings.adminAllow, string.byte as unknown as ByteAt)) return `forbidden: ${remote} is not in ELB_ADMIN_ALLOW`;
  return undefined;
}

/** Why the caller may not use the API (a 403 message), or undefined. */
export function refusal(): string | undefined {
  const denied = clientRefusal();
  if (denied !== undefined) return denied;
  const token = settings.adminToken;
  if (token !== undefined) {
    const given = bearer(ngx.var.http_authorization);
    if (given === undefined || !sameSecret(given, token)) return "forbidden: a valid Authorization: Bearer <token> header is required";
  }
  return undefined;
}

/** Takes a write slot: its name, or undefined when every slot is taken. */
export function takeWriteSlot(): string | undefined {
  for (let i = 1; i <= settings.adminMaxWrites; i++) {
    const slot = `admin_write|${i}`;
    const [ok] = locks.add(slot, ngx.worker.pid(), SLOT_TTL);
    if (ok) return slot;
  }
  return undefined;
}

export function releaseWriteSlot(slot: string): void {
  locks.delete(slot);
}
