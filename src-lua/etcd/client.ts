// An etcd v3 client over etcd's HTTP/JSON gateway (etcd 3.4: /v3/kv/*, /v3/lease/*,
// /v3/watch), on ngx cosockets. The only code that speaks to etcd. Errors are values, typed
// (failure.ts): callers branch on the kind, people read the message.
import * as cjson from "cjson.safe";
import { Endpoint, endpointName } from "../core/endpoints";
import { etcdError, EtcdFailure, failure, Result } from "./failure";
import { openStream, request, Transport } from "./http";
import {
  DeleteResult, headerRevision, int, KeyValue, keyRange, Lease, num, prefixEnd, PrefixResult, PutResult,
  rangeBody, RangeOptions, RangeResult, RevisionResult, toRangeResult, toTxnResult, TxnRequest, TxnResult,
} from "./kv";
import { WatchOptions, WatchStream } from "./watch";

const DEFAULT_TIMEOUT_MS = 5000;
const PAGE_SIZE = 1000;

// cjson writes an empty Lua table as {}, which the gateway rejects for a list: leave it out.
function listOrNothing<T>(list: T[] | undefined): T[] | undefined {
  return list === undefined || list.length === 0 ? undefined : list;
}

export interface ClientOptions {
  /** Bounds connect, send and each read, per endpoint tried (default 5000). */
  timeoutMs?: number;
  /** https:// endpoints: the client certificate and key, parsed (ngx.ssl) */
  cert?: unknown;
  key?: unknown;
  /** etcd authentication: a token is asked for each endpoint, and again when etcd says it expired */
  user?: string;
  password?: string;
}

/** Whether etcd's message says the token is missing, wrong or expired. */
function tokenMessage(msg: string): boolean {
  return string.find(msg, "auth token", 1, true)[0] !== undefined || string.find(msg, "user name is empty", 1, true)[0] !== undefined;
}

/** etcd's answers that mean the token is missing, wrong or expired (gRPC Unauthenticated is 16). */
function tokenRefused(status: number, decoded: any): boolean {
  if (status === 401) return true;
  if (typeof decoded !== "object") return false;
  return tonumber(decoded.code) === 16 || tokenMessage(tostring(decoded.message ?? decoded.error ?? ""));
}

export class EtcdClient {
  /** Index of the endpoint that answered last; requests start there. */
  private current = 0;
  private readonly timeoutMs: number;
  /** per endpoint: its TLS material and its auth token (simple tokens are valid on one member only) */
  private readonly transports: Transport[] = [];

  constructor(public readonly endpoints: Endpoint[], private readonly opts?: ClientOptions) {
    this.timeoutMs = opts?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    for (let i = 0; i < endpoints.length; i++) this.transports[i] = { cert: opts?.cert, key: opts?.key };
  }

  /**
   * The transport for endpoint `index`, with a token when etcd auth is on: [transport] or
   * [undefined, why, reached] (reached: the endpoint answered, so trying another is pointless
   * when it refused the user).
   */
  private transport(index: number, renew: boolean): LuaMultiReturn<[Transport, undefined, undefined] | [undefined, string, boolean]> {
    const t = this.transports[index];
    if (this.opts?.user === undefined || (t.token !== undefined && !renew)) return $multi(t, undefined, undefined);
    t.token = undefined;
    const [body] = cjson.encode({ name: this.opts.user, password: this.opts.password ?? "" });
    const [status, data] = request(this.endpoints[index], "POST", "/v3/auth/authenticate", body!, this.timeoutMs, t);
    if (status === undefined) return $multi(undefined, data!, false);
    const [decoded] = cjson.decode(data!);
    if (status !== 200 || typeof decoded !== "object" || typeof decoded.token !== "string") {
      return $multi(undefined, "etcd error: authentication as " + this.opts.user + " failed: " + etcdError(status, data!, decoded).message, true);
    }
    t.token = decoded.token;
    return $multi(t, undefined, undefined);
  }

  /** The endpoint requests go to first. */
  currentEndpoint(): Endpoint {
    return this.endpoints[this.current];
  }

  /**
   * POSTs payload to path. Tries the endpoints in turn, starting with the last one that
   * worked: always after a connect failure, and after a failure later in the exchange
   * (a read timeout: a hung member) only for reads (retryAfterSend), so that a write is
   * never applied twice.
   */
  private call(path: string, payload: object, retryAfterSend: boolean): Result<any> {
    const [body, jerr] = cjson.encode(payload);
    if (body === undefined) return $multi(undefined, failure("refused", "etcd client: cannot encode request: " + jerr));
    const tried: string[] = [];
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const index = (this.current + i) % n;
      const [tr, terr, reached] = this.transport(index, false);
      if (tr === undefined) {
        if (reached) return $multi(undefined, failure("refused", terr!));
        tried[tried.length] = terr!;
        continue;
      }
      let [status, data, stage] = request(this.endpoints[index], "POST", path, body, this.timeoutMs, tr);
      if (status !== undefined && status !== 200 && this.opts?.user !== undefined && tokenRefused(status, cjson.decode(data!)[0])) {
        // the token expired (or the member restarted): etcd refused the request, so sending it again is safe
        const [tr2, terr2] = this.transport(index, true);
        if (tr2 === undefined) return $multi(undefined, failure("refused", terr2!));
        [status, data, stage] = request(this.endpoints[index], "POST", path, body, this.timeoutMs, tr2);
      }
      if (status === undefined) {
        tried[tried.length] = data!;
        if (stage !== "connect" && !retryAfterSend) {
          // The next call starts with another endpoint.
          this.current = (index + 1) % n;
          return $multi(undefined, failure("outcome unknown", "etcd unreachable: " + data + " (the request was sent and may have been applied)"));
        }
      } else {
        this.current = index;
        const [decoded] = cjson.decode(data!);
        if (status !== 200) return $multi(undefined, etcdError(status, data!, decoded));
        if (decoded === undefined || typeof decoded !== "object") {
          return $multi(undefined, failure("refused", "etcd error: response is not JSON: " + string.sub(data!, 1, 200)));
        }
        return $multi(decoded, undefined);
      }
    }
    return $multi(undefined, failure("unreachable", "etcd unreachable: " + table.concat(tried, "; ")));
  }

  /** Keys in [key, rangeEnd), or key alone when rangeEnd is absent. */
  range(key: string, rangeEnd?: string, opts?: RangeOptions): Result<RangeResult> {
    const [raw, err] = this.call("/v3/kv/range", rangeBody(key, rangeEnd, opts), true);
    if (raw === undefined) return $multi(undefined, err!);
    return $multi(toRangeResult(raw, headerRevision(raw)), undefined);
  }

  /** One key, or undefined when it does not exist. */
  get(key: string): LuaMultiReturn<[KeyValue | undefined, undefined] | [undefined, EtcdFailure]> {
    const [res, err] = this.range(key);
    if (res === undefined) return $multi(undefined, err!);
    return $multi(res.kvs[0], undefined);
  }

  /**
   * Every key under prefix, read page by page (pageSize keys per request), all pages at the
   * revision of the first one, so the result is one consistent snapshot. Each page goes to
   * onPage (with that revision) while the next one is being read, so etcd's work and the
   * caller's overlap. Returns that revision.
   */
  eachPage(prefix: string, onPage: (this: void, kvs: KeyValue[], revision: number) => void, pageSize?: number): Result<number> {
    const limit = pageSize ?? PAGE_SIZE;
    const end = prefixEnd(prefix);
    const [first, err] = this.range(prefix, end, { limit: limit });
    if (first === undefined) return $multi(undefined, err!);
    let page = first;
    const revision = page.revision;
    for (;;) {
      let next: NgxThread | undefined = undefined;
      if (page.more && page.kvs.length > 0) {
        const from = page.kvs[page.kvs.length - 1].key + "\0";
        next = ngx.thread.spawn(() => this.range(from, end, { limit: limit, revision: revision }));
      }
      onPage(page.kvs, revision);
      if (next === undefined) return $multi(revision, undefined);
      const [ok, nextPage, nextErr] = ngx.thread.wait(next);
      if (!ok) return $multi(undefined, failure("unreachable", `etcd unreachable: reading a page failed: ${nextPage}`));
      if (nextPage === undefined) return $multi(undefined, nextErr as EtcdFailure);
      page = nextPage as RangeResult;
    }
  }

  /** Every key under prefix at one revision (see eachPage). */
  getPrefix(prefix: string, pageSize?: number): Result<PrefixResult> {
    const kvs: KeyValue[] = [];
    const [revision, err] = this.eachPage(prefix, (page) => {
      for (const kv of page) kvs[kvs.length] = kv;
    }, pageSize);
    if (revision === undefined) return $multi(undefined, err!);
    return $multi({ kvs: kvs, revision: revision }, undefined);
  }

  /** lease: a lease ID from leaseGrant, to attach the key to. */
  put(key: string, value: string, lease?: string): Result<PutResult> {
    const [raw, err] = this.call("/v3/kv/put", { key: ngx.encode_base64(key), value: ngx.encode_base64(value), lease: lease }, false);
    if (raw === undefined) return $multi(undefined, err!);
    return $multi({ revision: headerRevision(raw) }, undefined);
  }

  deleteKey(key: string): Result<DeleteResult> {
    return this.deleteRange(key, undefined);
  }

  deletePrefix(prefix: string): Result<DeleteResult> {
    return this.deleteRange(prefix, prefixEnd(prefix));
  }

  deleteRange(key: string, rangeEnd: string | undefined): Result<DeleteResult> {
    const [k, end] = keyRange(key, rangeEnd);
    const [raw, err] = this.call("/v3/kv/deleterange", { key: k, range_end: end }, false);
    if (raw === undefined) return $multi(undefined, err!);
    return $multi({ deleted: num(raw.deleted), revision: headerRevision(raw) }, undefined);
  }

  /** If every compare holds, runs success, otherwise failure; atomically. */
  txn(req: TxnRequest): Result<TxnResult> {
    const payload = { compare: listOrNothing(req.compare), success: listOrNothing(req.success), failure: listOrNothing(req.failure) };
    const [raw, err] = this.call("/v3/kv/txn", payload, false);
    if (raw === undefined) return $multi(undefined, err!);
    return $multi(toTxnResult(raw), undefined);
  }

  /** A new lease that expires ttl seconds after its last keepalive. */
  leaseGrant(ttl: number): Result<Lease> {
    const [raw, err] = this.call("/v3/lease/grant", { TTL: int(ttl) }, false);
    if (raw === undefined) return $multi(undefined, err!);
    if (raw.error !== undefined && raw.error !== "") return $multi(undefined, failure("refused", "etcd error: " + tostring(raw.error)));
    return $multi({ id: tostring(raw.ID), ttl: num(raw.TTL) }, undefined);
  }

  /** Renews a lease once; an unknown or expired lease is refused. */
  leaseKeepAlive(id: string): Result<Lease> {
    const [raw, err] = this.call("/v3/lease/keepalive", { ID: id }, true);
    if (raw === undefined) return $multi(undefined, err!);
    // A stream endpoint: the answer is {"result": ...} or {"error": ...}.
    if (raw.error !== undefined) return $multi(undefined, failure("refused", "etcd error: " + tostring(raw.error.message ?? raw.error)));
    const ttl = raw.result === undefined ? 0 : num(raw.result.TTL);
    if (ttl <= 0) return $multi(undefined, failure("refused", "etcd error: lease " + id + " not found (expired or revoked)"));
    return $multi({ id: id, ttl: ttl }, undefined);
  }

  /** Revokes a lease: every key attached to it is deleted. */
  leaseRevoke(id: string): Result<RevisionResult> {
    const [raw, err] = this.call("/v3/lease/revoke", { ID: id }, false);
    if (raw === undefined) return $multi(undefined, err!);
    return $multi({ revision: headerRevision(raw) }, undefined);
  }

  /**
   * Opens a watch on key (see WatchOptions) and waits for etcd to confirm it, so that
   * every change after this call returns is delivered. Read it with next().
   */
  watch(key: string, opts?: WatchOptions): Result<WatchStream> {
    const [k, end] = keyRange(key, opts?.prefix === true ? prefixEnd(key) : opts?.rangeEnd);
    const create = {
      key: k,
      range_end: end,
      start_revision: opts?.startRevision === undefined ? undefined : int(opts.startRevision),
      prev_kv: opts?.prevKv === true ? true : undefined,
      progress_notify: opts?.progressNotify === true ? true : undefined,
    };
    const [body] = cjson.encode({ create_request: create });
    const tried: string[] = [];
    const n = this.endpoints.length;
    let renewed = false;
    for (let i = 0; i < n; i++) {
      const index = (this.current + i) % n;
      const ep = this.endpoints[index];
      // Opening a watch changes nothing, so any endpoint that fails is skipped.
      let [tr, terr, reached] = this.transport(index, false);
      if (tr === undefined) {
        if (reached) return $multi(undefined, failure("refused", terr!));
        tried[tried.length] = terr!;
        continue;
      }
      let [stream, err] = openStream(ep, "POST", "/v3/watch", body!, this.timeoutMs, tr);
      if (stream !== undefined && stream.status !== 200 && this.opts?.user !== undefined) {
        const [data] = stream.readAll();
        if (tokenRefused(stream.status, cjson.decode(data ?? "")[0])) {
          [tr, terr] = this.transport(index, true);
          if (tr === undefined) return $multi(undefined, failure("refused", terr!));
          [stream, err] = openStream(ep, "POST", "/v3/watch", body!, this.timeoutMs, tr);
        } else {
          return $multi(undefined, etcdError(stream.status, data ?? "", cjson.decode(data ?? "")[0]));
        }
      }
      if (stream === undefined) {
        tried[tried.length] = err!;
      } else if (stream.status !== 200) {
        this.current = index;
        const [data, rerr] = stream.readAll();
        if (data === undefined) return $multi(undefined, failure("refused", "etcd error: HTTP " + stream.status + " (" + rerr + ")"));
        const [decoded] = cjson.decode(data);
        return $multi(undefined, etcdError(stream.status, data, decoded));
      } else {
        const watch = new WatchStream(stream);
        const [first, ferr] = watch.next();
        if (first === undefined && (ferr!.kind === "stream ended" || ferr!.kind === "timeout")) {
          watch.close();
          tried[tried.length] = "watch on " + endpointName(ep) + " not confirmed: " + ferr!.message;
        } else {
          this.current = index;
          if (first === undefined) {
            watch.close();
            // the stream itself may say the token expired: a new one, and the same endpoint again
            if (this.opts?.user !== undefined && !renewed && tokenMessage(ferr!.message)) {
              renewed = true;
              this.transport(index, true);
              i--;
              continue;
            }
            return $multi(undefined, ferr!);
          }
          if (!first.created || first.canceled) {
            watch.close();
            return $multi(undefined, failure("refused", "etcd error: watch not created" + (first.cancelReason === undefined ? "" : ": " + first.cancelReason)));
          }
          return $multi(watch, undefined);
        }
      }
    }
    return $multi(undefined, failure("unreachable", "etcd unreachable: " + table.concat(tried, "; ")));
  }
}

/** A client for endpoints (from core/endpoints). It keeps no connection open between calls. */
export function newClient(endpoints: Endpoint[], opts?: ClientOptions): EtcdClient {
  return new EtcdClient(endpoints, opts);
}
