// What went wrong talking to etcd, as a kind callers branch on (never by matching the text):
//   unreachable      no endpoint took the request: nothing was done
//   outcome unknown  a write was sent but no answer came: etcd may still apply it
//   refused          etcd answered with an error (a bad request, a failed precondition, ...)
//   compacted        the revision asked for is gone (a watch or read must start again)
//   stream ended     a watch stream closed or broke
//   timeout          nothing arrived on a stream within the wait; it is still usable
// `message` says it for a person, starting "etcd unreachable:" or "etcd error:".

export type FailureKind = "unreachable" | "outcome unknown" | "refused" | "compacted" | "stream ended" | "timeout";

export interface EtcdFailure {
  kind: FailureKind;
  message: string;
}

export type Result<T> = LuaMultiReturn<[T, undefined] | [undefined, EtcdFailure]>;

export function failure(kind: FailureKind, message: string): EtcdFailure {
  return { kind, message };
}

/** gRPC's OutOfRange: etcd answers it for a compacted revision and for a future one. */
const GRPC_OUT_OF_RANGE = 11;

/** etcd's error answer (HTTP status, body and its decoded JSON) as a failure. */
export function etcdError(status: number, body: string, decoded: any): EtcdFailure {
  if (typeof decoded === "object") {
    const message = decoded.message ?? decoded.error;
    if (message !== undefined) {
      const code = decoded.code === undefined ? "" : ", code " + tostring(decoded.code);
      const compacted = tonumber(decoded.code) === GRPC_OUT_OF_RANGE && string.find(tostring(message), "compacted", 1, true)[0] !== undefined;
      const kind: FailureKind = compacted ? "compacted" : "refused";
      return failure(kind, "etcd error: " + tostring(message) + " (HTTP " + status + code + ")");
    }
  }
  return failure("refused", "etcd error: HTTP " + status + ": " + string.sub(body, 1, 200));
}
