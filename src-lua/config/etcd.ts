// An etcd v3 client over etcd's HTTP/JSON gateway (etcd 3.4: /v3/kv/*, /v3/lease/*,
// /v3/watch), on ngx cosockets. Keys and values travel base64-encoded; int64 fields
// arrive as JSON strings. Revisions and counts become numbers; lease IDs stay decimal
// strings, because they use all 64 bits and a Lua number (double) would round them.
// Errors are values: "etcd unreachable: ..." when no endpoint answered, "etcd error: ..."
// when etcd answered with an error.

import * as cjson from "cjson.safe";
import { Endpoint, FailureStage, HttpStream, endpointName, openStream, request } from "./http";

export type { Endpoint };

type Result<T> = LuaMultiReturn<[T, undefined] | [undefined, string]>;

const DEFAULT_TIMEOUT_MS = 5000;
const PAGE_SIZE = 1000;

// ---------------------------------------------------------------- endpoints

function trim(s: string): string {
  const [inner] = string.match(s, "^%s*(.-)%s*$");
  return inner ?? "";
}

function parseEndpoint(entry: string): LuaMultiReturn<[Endpoint, undefined] | [undefined, string]> {
  const bad = 'invalid etcd endpoint "' + entry + '": ';
  let rest = entry;
  const [scheme, afterScheme] = string.match(entry, "^(%a[%w+.-]*)://(.*)$");
  if (scheme !== undefined) {
    if (string.lower(scheme) !== "http") return $multi(undefined, bad + "only http:// is supported");
    rest = afterScheme;
  }
  if (string.sub(rest, -1) === "/") rest = string.sub(rest, 1, -2);
  if (string.find(rest, "/", 1, true)[0] !== undefined) return $multi(undefined, bad + "a path is not allowed");

  let [host, portText] = string.match(rest, "^%[([%x:.]+)%]:(%d+)$");
  if (host === undefined) [host, portText] = string.match(rest, "^([%w.-]+):(%d+)$");
  if (host === undefined) return $multi(undefined, bad + "expected host:port, like 127.0.0.1:2379");
  const port = tonumber(portText)!;
  if (port < 1 || port > 65535) return $multi(undefined, bad + "port out of range");
  // Cosockets resolve names through nginx's resolver directive, not /etc/hosts.
  if (string.lower(host) === "localhost") host = "127.0.0.1";
  return $multi({ host: host, port: port }, undefined);
}

/**
 * Parses the ETCD setting: "host:port" or "http://host:port", several separated by
 * commas, whitespace around them ignored. [endpoints, undefined] or [undefined, message].
 * "localhost" becomes 127.0.0.1; other names need a resolver directive in nginx.conf.
 */
export function parseEndpoints(spec: string | undefined): LuaMultiReturn<[Endpoint[], undefined] | [undefined, string]> {
  if (spec === undefined) return $multi(undefined, "no etcd endpoints given");
  const endpoints: Endpoint[] = [];
  for (const [item] of string.gmatch(spec, "[^,]+")) {
    const entry = trim(item);
    if (entry !== "") {
      const [ep, err] = parseEndpoint(entry);
      if (ep === undefined) return $multi(undefined, err!);
      endpoints[endpoints.length] = ep;
    }
  }
  if (endpoints.length === 0) return $multi(undefined, 'no etcd endpoints in "' + spec + '"');
  return $multi(endpoints, undefined);
}

// ---------------------------------------------------------------- keys

/** The range end that selects every key starting with prefix ("\0" = to the end of the keyspace). */
export function prefixEnd(prefix: string): string {
  for (let i = string.len(prefix); i >= 1; i--) {
    const b = string.byte(prefix, i);
    if (b < 0xff) return string.sub(prefix, 1, i - 1) + string.char(b + 1);
  }
  return "\0";
}

function b64(s: string): string {
  return ngx.encode_base64(s);
}

function unb64(s: string | undefined): string {
  if (s === undefined || s === "") return "";
  return ngx.decode_base64(s) ?? "";
}

function int(n: number): string {
  return string.format("%d", n);
}

function num(s: unknown): number {
  if (s === undefined) return 0;
  return tonumber(s) ?? 0;
}

// ---------------------------------------------------------------- results

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** The lease ID as a decimal string; undefined when the key has no lease. */
  lease?: string;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** How many keys the range holds (not only those returned). */
  count: number;
  /** True when a limit cut the result short. */
  more: boolean;
  /** The store revision this answer was read at. */
  revision: number;
}

export interface RangeOptions {
  limit?: number;
  /** Read at this revision (0 or absent = the newest). */
  revision?: number;
  keysOnly?: boolean;
  countOnly?: boolean;
  serializable?: boolean;
}

export interface PrefixResult {
  kvs: KeyValue[];
  revision: number;
}

export interface PutResult {
  revision: number;
}

export interface DeleteResult {
  deleted: number;
  revision: number;
}

export interface Lease {
  /** Decimal string: lease IDs use all 64 bits. */
  id: string;
  ttl: number;
}

export interface RevisionResult {
  revision: number;
}

function toKeyValue(raw: any): KeyValue {
  return {
    key: unb64(raw.key),
    value: unb64(raw.value),
    createRevision: num(raw.create_revision),
    modRevision: num(raw.mod_revision),
    version: num(raw.version),
    lease: raw.lease === undefined || raw.lease === "0" ? undefined : tostring(raw.lease),
  };
}

function toRangeResult(raw: any, revision: number): RangeResult {
  const kvs: KeyValue[] = [];
  if (raw.kvs !== undefined) {
    for (const kv of raw.kvs as any[]) kvs[kvs.length] = toKeyValue(kv);
  }
  return { kvs: kvs, count: num(raw.count), more: raw.more === true, revision: revision };
}

function headerRevision(raw: any): number {
  return raw.header === undefined ? 0 : num(raw.header.revision);
}

// ---------------------------------------------------------------- txn builders

export type CompareResult = "EQUAL" | "NOT_EQUAL" | "LESS" | "GREATER";

/** A txn comparison in the gateway's JSON shape; build it with the compare* functions. */
export interface Compare {
  key: string;
  range_end?: string;
  target: "VALUE" | "VERSION" | "CREATE" | "MOD";
  result: CompareResult;
  value?: string;
  version?: string;
  create_revision?: string;
  mod_revision?: string;
}

/** A txn operation in the gateway's JSON shape; build it with the op* functions. */
export interface TxnOp {
  request_put?: object;
  request_range?: object;
  request_delete_range?: object;
}

function rangeEndField(rangeEnd: string | undefined): string | undefined {
  return rangeEnd === undefined ? undefined : b64(rangeEnd);
}

/** Compares the value of key (or of every key in [key, rangeEnd)). */
export function compareValue(key: string, result: CompareResult, value: string, rangeEnd?: string): Compare {
  return { key: b64(key), range_end: rangeEndField(rangeEnd), target: "VALUE", result: result, value: b64(value) };
}

/** Compares the version (number of writes since creation; 0 = the key does not exist). */
export function compareVersion(key: string, result: CompareResult, version: number, rangeEnd?: string): Compare {
  return { key: b64(key), range_end: rangeEndField(rangeEnd), target: "VERSION", result: result, version: int(version) };
}

/** Compares the create revision (0 = the key does not exist). */
export function compareCreateRevision(key: string, result: CompareResult, revision: number, rangeEnd?: string): Compare {
  return { key: b64(key), range_end: rangeEndField(rangeEnd), target: "CREATE", result: result, create_revision: int(revision) };
}

/** Compares the revision of the last write. */
export function compareModRevision(key: string, result: CompareResult, revision: number, rangeEnd?: string): Compare {
  return { key: b64(key), range_end: rangeEndField(rangeEnd), target: "MOD", result: result, mod_revision: int(revision) };
}

export function opPut(key: string, value: string, lease?: string): TxnOp {
  return { request_put: { key: b64(key), value: b64(value), lease: lease } };
}

/** Deletes key; with {prefix: true} every key under it; with {rangeEnd} the range [key, rangeEnd). */
export function opDeleteRange(key: string, opts?: { prefix?: boolean; rangeEnd?: string }): TxnOp {
  const [k, end] = keyRange(key, opts?.prefix === true ? prefixEnd(key) : opts?.rangeEnd);
  return { request_delete_range: { key: k, range_end: end } };
}

export function opRange(key: string, rangeEnd?: string, opts?: RangeOptions): TxnOp {
  return { request_range: rangeBody(key, rangeEnd, opts) };
}

export type TxnOpResult =
  | { kind: "put"; revision: number }
  | { kind: "range"; range: RangeResult }
  | { kind: "deleteRange"; deleted: number };

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  responses: TxnOpResult[];
}

export interface TxnRequest {
  compare?: Compare[];
  success?: TxnOp[];
  failure?: TxnOp[];
}

// An empty key is not accepted by etcd; "\0" is the smallest key, so ["", end) becomes ["\0", end).
function keyRange(key: string, rangeEnd: string | undefined): LuaMultiReturn<[string, string | undefined]> {
  if (key === "" && rangeEnd !== undefined) return $multi(b64("\0"), b64(rangeEnd));
  return $multi(b64(key), rangeEndField(rangeEnd));
}

function rangeBody(key: string, rangeEnd: string | undefined, opts: RangeOptions | undefined): object {
  const [k, end] = keyRange(key, rangeEnd);
  return {
    key: k,
    range_end: end,
    limit: opts?.limit === undefined ? undefined : int(opts.limit),
    revision: opts?.revision === undefined ? undefined : int(opts.revision),
    keys_only: opts?.keysOnly === true ? true : undefined,
    count_only: opts?.countOnly === true ? true : undefined,
    serializable: opts?.serializable === true ? true : undefined,
  };
}

// cjson writes an empty Lua table as {}, which the gateway rejects for a list: leave it out.
function listOrNothing<T>(list: T[] | undefined): T[] | undefined {
  return list === undefined || list.length === 0 ? undefined : list;
}

// ---------------------------------------------------------------- watch

export interface WatchEvent {
  type: "put" | "delete";
  kv: KeyValue;
  prevKv?: KeyValue;
}

export interface WatchResponse {
  watchId: string;
  created: boolean;
  canceled: boolean;
  cancelReason?: string;
  /** Set when the requested start revision was compacted: resync from a fresh read. */
  compactRevision: number;
  revision: number;
  events: WatchEvent[];
}

/** Decodes one message of a /v3/watch stream (one line of it). */
export function decodeWatchMessage(line: string): Result<WatchResponse> {
  const [msg, jerr] = cjson.decode(line);
  if (msg === undefined || typeof msg !== "object") return $multi(undefined, "etcd error: undecodable watch message: " + (jerr ?? string.sub(line, 1, 80)));
  if (msg.error !== undefined) {
    const e = msg.error;
    return $multi(undefined, "etcd error: " + tostring(typeof e === "object" ? e.message ?? e.error : e));
  }
  const r = msg.result;
  if (r === undefined) return $multi(undefined, "etcd error: watch message without a result");
  const events: WatchEvent[] = [];
  if (r.events !== undefined) {
    for (const ev of r.events as any[]) {
      events[events.length] = {
        type: ev.type === "DELETE" ? "delete" : "put", // PUT is the enum's zero value and is left out
        kv: toKeyValue(ev.kv ?? {}),
        prevKv: ev.prev_kv === undefined ? undefined : toKeyValue(ev.prev_kv),
      };
    }
  }
  return $multi(
    {
      watchId: tostring(r.watch_id ?? "0"),
      created: r.created === true,
      canceled: r.canceled === true,
      cancelReason: r.cancel_reason,
      compactRevision: num(r.compact_revision),
      revision: headerRevision(r),
      events: events,
    },
    undefined,
  );
}

/** A /v3/watch response read message by message (messages are newline-delimited JSON). */
export class WatchStream {
  private buffer = "";

  constructor(private stream: HttpStream) {}

  /**
   * The next watch message. Errors: "timeout" (nothing complete arrived within
   * timeoutMs; the stream stays usable), "eof" (etcd ended the stream), or a fatal
   * message (the stream is closed).
   */
  next(timeoutMs?: number): Result<WatchResponse> {
    for (;;) {
      const [nl] = string.find(this.buffer, "\n", 1, true);
      if (nl !== undefined) {
        const line = string.sub(this.buffer, 1, nl - 1);
        this.buffer = string.sub(this.buffer, nl + 1);
        if (string.find(line, "%S")[0] !== undefined) return decodeWatchMessage(line);
      } else {
        const [chunk, err] = this.stream.readChunk(timeoutMs);
        if (chunk === undefined) {
          // A last message may come without its newline.
          if (err === "eof" && string.find(this.buffer, "%S")[0] !== undefined) {
            const line = this.buffer;
            this.buffer = "";
            return decodeWatchMessage(line);
          }
          return $multi(undefined, err!);
        }
        this.buffer = this.buffer + chunk;
      }
    }
  }

  close(): void {
    this.stream.close();
  }
}

export interface WatchOptions {
  rangeEnd?: string;
  /** Also watch every key under key. */
  prefix?: boolean;
  /** Replay events from this revision on (0 or absent = only new events). */
  startRevision?: number;
  prevKv?: boolean;
  progressNotify?: boolean;
}

// ---------------------------------------------------------------- client

function etcdError(status: number, body: string, decoded: any): string {
  if (typeof decoded === "object") {
    const message = decoded.message ?? decoded.error;
    if (message !== undefined) {
      const code = decoded.code === undefined ? "" : ", code " + tostring(decoded.code);
      return "etcd error: " + tostring(message) + " (HTTP " + status + code + ")";
    }
  }
  return "etcd error: HTTP " + status + ": " + string.sub(body, 1, 200);
}

export interface ClientOptions {
  /** Bounds connect, send and each read, per endpoint tried (default 5000). */
  timeoutMs?: number;
}

export class EtcdClient {
  /** Index of the endpoint that answered last; requests start there. */
  private current = 0;
  private readonly timeoutMs: number;

  constructor(public readonly endpoints: Endpoint[], opts?: ClientOptions) {
    this.timeoutMs = opts?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
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
    if (body === undefined) return $multi(undefined, "etcd client: cannot encode request: " + jerr);
    const tried: string[] = [];
    const n = this.endpoints.length;
    for (let i = 0; i < n; i++) {
      const index = (this.current + i) % n;
      const [status, data, stage] = request(this.endpoints[index], "POST", path, body, this.timeoutMs);
      if (status === undefined) {
        tried[tried.length] = data!;
        if (stage !== "connect" && !retryAfterSend) {
          // The next call starts with another endpoint.
          this.current = (index + 1) % n;
          return $multi(undefined, "etcd unreachable: " + data + " (the request was sent and may have been applied)");
        }
      } else {
        this.current = index;
        const [decoded] = cjson.decode(data!);
        if (status !== 200) return $multi(undefined, etcdError(status, data!, decoded));
        if (decoded === undefined || typeof decoded !== "object") {
          return $multi(undefined, "etcd error: response is not JSON: " + string.sub(data!, 1, 200));
        }
        return $multi(decoded, undefined);
      }
    }
    return $multi(undefined, "etcd unreachable: " + table.concat(tried, "; "));
  }

  /** Keys in [key, rangeEnd), or key alone when rangeEnd is absent. */
  range(key: string, rangeEnd?: string, opts?: RangeOptions): Result<RangeResult> {
    const [raw, err] = this.call("/v3/kv/range", rangeBody(key, rangeEnd, opts), true);
    if (raw === undefined) return $multi(undefined, err!);
    return $multi(toRangeResult(raw, headerRevision(raw)), undefined);
  }

  /** One key, or undefined when it does not exist. */
  get(key: string): LuaMultiReturn<[KeyValue | undefined, undefined] | [undefined, string]> {
    const [res, err] = this.range(key);
    if (res === undefined) return $multi(undefined, err!);
    return $multi(res.kvs[0], undefined);
  }

  /**
   * Every key under prefix, read page by page (pageSize keys per request), all pages at the
   * revision of the first one, so the result is one consistent snapshot. Each page goes to
   * onPage while the next one is being read, so etcd's work and the caller's overlap.
   * Returns that revision.
   */
  eachPage(prefix: string, onPage: (this: void, kvs: KeyValue[]) => void, pageSize?: number): Result<number> {
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
      onPage(page.kvs);
      if (next === undefined) return $multi(revision, undefined);
      const [ok, nextPage, nextErr] = ngx.thread.wait(next);
      if (!ok) return $multi(undefined, `reading etcd: ${nextPage}`);
      if (nextPage === undefined) return $multi(undefined, nextErr as string);
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
    const [raw, err] = this.call("/v3/kv/put", { key: b64(key), value: b64(value), lease: lease }, false);
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
    const revision = headerRevision(raw);
    const responses: TxnOpResult[] = [];
    if (raw.responses !== undefined) {
      for (const r of raw.responses as any[]) {
        if (r.response_range !== undefined) {
          responses[responses.length] = { kind: "range", range: toRangeResult(r.response_range, headerRevision(r.response_range)) };
        } else if (r.response_delete_range !== undefined) {
          responses[responses.length] = { kind: "deleteRange", deleted: num(r.response_delete_range.deleted) };
        } else {
          responses[responses.length] = { kind: "put", revision: headerRevision(r.response_put ?? {}) };
        }
      }
    }
    return $multi({ succeeded: raw.succeeded === true, revision: revision, responses: responses }, undefined);
  }

  /** A new lease that expires ttl seconds after its last keepalive. */
  leaseGrant(ttl: number): Result<Lease> {
    const [raw, err] = this.call("/v3/lease/grant", { TTL: int(ttl) }, false);
    if (raw === undefined) return $multi(undefined, err!);
    if (raw.error !== undefined && raw.error !== "") return $multi(undefined, "etcd error: " + tostring(raw.error));
    return $multi({ id: tostring(raw.ID), ttl: num(raw.TTL) }, undefined);
  }

  /** Renews a lease once; an unknown or expired lease is an "etcd error:". */
  leaseKeepAlive(id: string): Result<Lease> {
    const [raw, err] = this.call("/v3/lease/keepalive", { ID: id }, true);
    if (raw === undefined) return $multi(undefined, err!);
    // A stream endpoint: the answer is {"result": ...} or {"error": ...}.
    if (raw.error !== undefined) return $multi(undefined, "etcd error: " + tostring(raw.error.message ?? raw.error));
    const ttl = raw.result === undefined ? 0 : num(raw.result.TTL);
    if (ttl <= 0) return $multi(undefined, "etcd error: lease " + id + " not found (expired or revoked)");
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
    for (let i = 0; i < n; i++) {
      const index = (this.current + i) % n;
      const ep = this.endpoints[index];
      // Opening a watch changes nothing, so any endpoint that fails is skipped.
      const [stream, err] = openStream(ep, "POST", "/v3/watch", body!, this.timeoutMs);
      if (stream === undefined) {
        tried[tried.length] = err!;
      } else if (stream.status !== 200) {
        this.current = index;
        const [data, rerr] = stream.readAll();
        if (data === undefined) return $multi(undefined, "etcd error: HTTP " + stream.status + " (" + rerr + ")");
        const [decoded] = cjson.decode(data);
        return $multi(undefined, etcdError(stream.status, data, decoded));
      } else {
        const watch = new WatchStream(stream);
        const [first, ferr] = watch.next();
        // next() says "etcd error: ..." for an answer from etcd; anything else is the connection.
        if (first === undefined && string.sub(ferr!, 1, 11) !== "etcd error:") {
          watch.close();
          tried[tried.length] = "watch on " + endpointName(ep) + " not confirmed: " + ferr;
        } else {
          this.current = index;
          if (first === undefined) {
            watch.close();
            return $multi(undefined, ferr!);
          }
          if (!first.created || first.canceled) {
            watch.close();
            return $multi(undefined, "etcd error: watch not created" + (first.cancelReason === undefined ? "" : ": " + first.cancelReason));
          }
          return $multi(watch, undefined);
        }
      }
    }
    return $multi(undefined, "etcd unreachable: " + table.concat(tried, "; "));
  }
}

/** A client for endpoints (from parseEndpoints). It keeps no connection open between calls. */
export function newClient(endpoints: Endpoint[], opts?: ClientOptions): EtcdClient {
  return new EtcdClient(endpoints, opts);
}

export type { FailureStage };
