// The shapes of etcd's v3 JSON gateway (etcd 3.4): keys and values travel base64-encoded,
// int64 fields arrive as JSON strings. Revisions and counts become numbers; lease IDs stay
// decimal strings, because they use all 64 bits and a Lua number (double) would round them.
// Builders for transaction compares and operations, and the decoders of results.

/** The range end that selects every key starting with prefix ("\0" = to the end of the keyspace). */
export function prefixEnd(prefix: string): string {
  for (let i = string.len(prefix); i >= 1; i--) {
    const b = string.byte(prefix, i);
    if (b < 0xff) return string.sub(prefix, 1, i - 1) + string.char(b + 1);
  }
  return "\0";
}

export function b64(s: string): string {
  return ngx.encode_base64(s);
}

function unb64(s: string | undefined): string {
  if (s === undefined || s === "") return "";
  return ngx.decode_base64(s) ?? "";
}

export function int(n: number): string {
  return string.format("%d", n);
}

export function num(s: unknown): number {
  if (s === undefined) return 0;
  return tonumber(s) ?? 0;
}

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
  /** order of the keys returned (etcd's sort_order and sort_target) */
  sortOrder?: "ASCEND" | "DESCEND";
  sortTarget?: "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";
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

export function toKeyValue(raw: any): KeyValue {
  return {
    key: unb64(raw.key),
    value: unb64(raw.value),
    createRevision: num(raw.create_revision),
    modRevision: num(raw.mod_revision),
    version: num(raw.version),
    lease: raw.lease === undefined || raw.lease === "0" ? undefined : tostring(raw.lease),
  };
}

export function toRangeResult(raw: any, revision: number): RangeResult {
  const kvs: KeyValue[] = [];
  if (raw.kvs !== undefined) {
    for (const kv of raw.kvs as any[]) kvs[kvs.length] = toKeyValue(kv);
  }
  return { kvs: kvs, count: num(raw.count), more: raw.more === true, revision: revision };
}

export function headerRevision(raw: any): number {
  return raw.header === undefined ? 0 : num(raw.header.revision);
}

// ---------------------------------------------------------------- transactions

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

function rangeEndField(rangeEnd: string | undefined): string | undefined {
  return rangeEnd === undefined ? undefined : b64(rangeEnd);
}

// An empty key is not accepted by etcd; "\0" is the smallest key, so ["", end) becomes ["\0", end).
export function keyRange(key: string, rangeEnd: string | undefined): LuaMultiReturn<[string, string | undefined]> {
  if (key === "" && rangeEnd !== undefined) return $multi(b64("\0"), b64(rangeEnd));
  return $multi(b64(key), rangeEndField(rangeEnd));
}

export function rangeBody(key: string, rangeEnd: string | undefined, opts: RangeOptions | undefined): object {
  const [k, end] = keyRange(key, rangeEnd);
  return {
    key: k,
    range_end: end,
    limit: opts?.limit === undefined ? undefined : int(opts.limit),
    revision: opts?.revision === undefined ? undefined : int(opts.revision),
    keys_only: opts?.keysOnly === true ? true : undefined,
    count_only: opts?.countOnly === true ? true : undefined,
    serializable: opts?.serializable === true ? true : undefined,
    sort_order: opts?.sortOrder,
    sort_target: opts?.sortTarget,
  };
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

export function toTxnResult(raw: any): TxnResult {
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
  return { succeeded: raw.succeeded === true, revision: headerRevision(raw), responses: responses };
}
