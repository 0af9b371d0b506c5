// A /v3/watch response read message by message: newline-delimited JSON, one message per
// HTTP chunk (a large message can span several chunks).
import * as cjson from "cjson.safe";
import { failure, Result } from "./failure";
import { HttpStream } from "./http";
import { headerRevision, KeyValue, num, toKeyValue } from "./kv";

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
  revision: number;
  events: WatchEvent[];
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

/** Decodes one message of a /v3/watch stream (one line of it). */
export function decodeWatchMessage(line: string): Result<WatchResponse> {
  const [msg, jerr] = cjson.decode(line);
  if (msg === undefined || typeof msg !== "object") return $multi(undefined, failure("refused", "etcd error: undecodable watch message: " + (jerr ?? string.sub(line, 1, 80))));
  if (msg.error !== undefined) {
    const e = msg.error;
    return $multi(undefined, failure("refused", "etcd error: " + tostring(typeof e === "object" ? e.message ?? e.error : e)));
  }
  const r = msg.result;
  if (r === undefined) return $multi(undefined, failure("refused", "etcd error: watch message without a result"));
  const compacted = num(r.compact_revision);
  if (compacted > 0) return $multi(undefined, failure("compacted", `etcd compacted its history up to revision ${compacted}`));
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
      revision: headerRevision(r),
      events: events,
    },
    undefined,
  );
}

export class WatchStream {
  private buffer = "";

  constructor(private stream: HttpStream) {}

  /**
   * The next watch message. Failures: "timeout" (nothing complete arrived within timeoutMs;
   * the stream stays usable), "stream ended" (etcd ended it, or it broke: it is closed),
   * "compacted" (the start revision is gone), "refused" (etcd's error message).
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
          if (err === "timeout") return $multi(undefined, failure("timeout", "etcd: no watch message yet"));
          // A last message may come without its newline.
          if (err === "eof" && string.find(this.buffer, "%S")[0] !== undefined) {
            const line = this.buffer;
            this.buffer = "";
            return decodeWatchMessage(line);
          }
          return $multi(undefined, failure("stream ended", "etcd: watch stream ended: " + err));
        }
        this.buffer = this.buffer + chunk;
      }
    }
  }

  close(): void {
    this.stream.close();
  }
}
