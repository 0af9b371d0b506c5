// A minimal HTTP/1.1 client over ngx cosockets, enough for etcd's JSON gateway.
// request() reads a whole response; openStream() returns the response head and lets
// the caller read the body piece by piece (a long-lived /v3/watch response).
// Errors are values: [undefined, message, stage]; nothing here throws.
import { Endpoint, endpointName } from "../core/endpoints";

/**
 * Where a request failed. "connect" means nothing was sent, so trying another server
 * is always safe; after "send"/"receive"/"protocol" the server may have acted on it.
 */
export type FailureStage = "connect" | "send" | "receive" | "protocol";

export type Headers = { [lowercaseName: string]: string | undefined };

const KEEPALIVE_IDLE_MS = 60000;
const KEEPALIVE_POOL_SIZE = 8;
const READ_MAX = 65536;
const DEFAULT_TIMEOUT_MS = 5000;

/** How a request reaches an https:// endpoint, and the headers it carries (an etcd auth token). */
export interface Transport {
  /** the client certificate and key, parsed (ngx.ssl.parse_pem_cert / parse_pem_priv_key) */
  cert?: unknown;
  key?: unknown;
  /** the Authorization header: etcd's auth token */
  token?: string;
}

type BodyMode = "none" | "length" | "chunked" | "close";
// Chunked decoding state: waiting for a size line, inside chunk data, waiting for the
// CRLF that ends a chunk, reading the trailer section, or finished.
type ChunkState = "size" | "data" | "crlf" | "trailer" | "done";

function requestText(ep: Endpoint, method: string, path: string, body: string | undefined, transport: Transport | undefined): string {
  let head = method + " " + path + " HTTP/1.1\r\nHost: " + endpointName(ep) + "\r\nUser-Agent: elb\r\nAccept: application/json\r\n";
  if (transport?.token !== undefined) head = head + "Authorization: " + transport.token + "\r\n";
  if (body !== undefined) {
    head = head + "Content-Type: application/json\r\nContent-Length: " + string.len(body) + "\r\n\r\n" + body;
  } else if (method === "POST" || method === "PUT") {
    head = head + "Content-Length: 0\r\n\r\n";
  } else {
    head = head + "\r\n";
  }
  return head;
}

/** A response whose body is read on demand. */
export class HttpStream {
  /** Bytes received before a read timed out, kept for the next readChunk(). */
  private pending = "";
  private state: ChunkState = "size";
  private done = false;

  constructor(
    private sock: NgxTcpSocket,
    private timeoutMs: number,
    public readonly status: number,
    public readonly headers: Headers,
    private mode: BodyMode,
    private remaining: number,
    private keepalive: boolean,
  ) {
    if (mode === "none" || (mode === "length" && remaining <= 0)) this.finish();
  }

  /**
   * The next piece of the body: one HTTP chunk for a chunked response (etcd flushes one
   * message per chunk, but a large message can span several chunks), otherwise whatever
   * bytes have arrived. Errors: "eof" at the end of the body; "timeout" when nothing
   * complete arrived within timeoutMs (the stream stays usable, call again); anything
   * else is fatal and closes the connection.
   */
  readChunk(timeoutMs?: number): LuaMultiReturn<[string, undefined] | [undefined, string]> {
    if (this.done) return $multi(undefined, "eof");
    const t = timeoutMs ?? this.timeoutMs;
    this.sock.settimeouts(t, t, t);
    if (this.mode === "chunked") return this.readChunked();
    if (this.mode === "length" && this.remaining <= 0) {
      this.finish();
      return $multi(undefined, "eof");
    }
    const max = this.mode === "length" && this.remaining < READ_MAX ? this.remaining : READ_MAX;
    const [data, err] = this.sock.receiveany(max);
    if (data === undefined) {
      if (err === "timeout") return $multi(undefined, "timeout");
      if (err === "closed" && this.mode === "close") {
        this.done = true;
        this.sock.close();
        return $multi(undefined, "eof");
      }
      return this.fail("reading the response body: " + err);
    }
    if (this.mode === "length") this.remaining -= string.len(data);
    return $multi(data, undefined);
  }

  /** Reads the rest of the body. Any error (a timeout too) closes the connection. */
  readAll(): LuaMultiReturn<[string, undefined] | [undefined, string]> {
    const parts: string[] = [];
    for (;;) {
      const [data, err] = this.readChunk();
      if (data === undefined) {
        if (err === "eof") return $multi(table.concat(parts), undefined);
        this.close();
        return $multi(undefined, err!);
      }
      parts[parts.length] = data;
    }
  }

  /** Closes the connection; the rest of the body is not read. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.state = "done";
    this.sock.close();
  }

  private readLine(): LuaMultiReturn<[string, undefined] | [undefined, string]> {
    const [line, err, partial] = this.sock.receive("*l");
    if (line === undefined) {
      if (err === "timeout") {
        this.pending = this.pending + (partial ?? "");
        return $multi(undefined, "timeout");
      }
      return $multi(undefined, "reading a chunk: " + err);
    }
    const full = this.pending + line;
    this.pending = "";
    return $multi(full, undefined);
  }

  private lineFailed(err: string): LuaMultiReturn<[undefined, string]> {
    if (err === "timeout") return $multi(undefined, "timeout");
    return this.fail(err);
  }

  private readChunked(): LuaMultiReturn<[string, undefined] | [undefined, string]> {
    for (;;) {
      if (this.state === "crlf") {
        const [line, err] = this.readLine();
        if (line === undefined) return this.lineFailed(err!);
        if (line !== "") return this.fail("malformed chunked body: data longer than its chunk size");
        this.state = "size";
      }
      if (this.state === "size") {
        const [line, err] = this.readLine();
        if (line === undefined) return this.lineFailed(err!);
        const [hex] = string.match(line, "^%s*(%x+)");
        const size = hex === undefined ? undefined : tonumber(hex, 16);
        if (size === undefined) return this.fail("malformed chunk size line: " + string.sub(line, 1, 40));
        if (size === 0) {
          this.state = "trailer";
        } else {
          this.state = "data";
          this.remaining = size;
        }
      }
      if (this.state === "trailer") {
        // Trailer fields (etcd sends Grpc-Trailer-Content-Type) up to an empty line.
        for (;;) {
          const [line, err] = this.readLine();
          if (line === undefined) return this.lineFailed(err!);
          if (line === "") break;
        }
        this.finish();
        return $multi(undefined, "eof");
      }
      if (this.state === "data") {
        const [data, err, partial] = this.sock.receive(this.remaining);
        if (data === undefined) {
          if (err === "timeout") {
            const got = partial ?? "";
            this.pending = this.pending + got;
            this.remaining -= string.len(got);
            return $multi(undefined, "timeout");
          }
          return this.fail("reading a chunk: " + err);
        }
        const chunk = this.pending + data;
        this.pending = "";
        this.state = "crlf";
        return $multi(chunk, undefined);
      }
    }
  }

  private finish(): void {
    this.done = true;
    this.state = "done";
    if (this.keepalive) {
      const [ok] = this.sock.setkeepalive(KEEPALIVE_IDLE_MS, KEEPALIVE_POOL_SIZE);
      if (ok) return;
    }
    this.sock.close();
  }

  private fail(message: string): LuaMultiReturn<[undefined, string]> {
    this.done = true;
    this.state = "done";
    this.sock.close();
    return $multi(undefined, message);
  }
}

type OpenResult = LuaMultiReturn<[HttpStream, undefined, undefined, boolean] | [undefined, string, FailureStage, boolean]>;

function openOnce(ep: Endpoint, method: string, text: string, timeoutMs: number, transport: Transport | undefined): OpenResult {
  const name = endpointName(ep);
  const sock = ngx.socket.tcp();
  sock.settimeouts(timeoutMs, timeoutMs, timeoutMs);
  const [ok, cerr] = sock.connect(ep.host, ep.port);
  if (!ok) return $multi(undefined, "connect to " + name + ": " + cerr, "connect", false);
  const [times] = sock.getreusedtimes();
  const reused = (times ?? 0) > 0;
  if (ep.tls && !reused) {
    // the certificate is checked against lua_ssl_trusted_certificate (ETCD_CACERT), and its
    // name against the host name written in ETCD (an IP address: the chain only)
    if (transport?.cert !== undefined) {
      const [set, serr] = sock.setclientcert(transport.cert, transport.key);
      if (!set) {
        sock.close();
        return $multi(undefined, "client certificate for " + name + ": " + serr, "connect", false);
      }
    }
    const [shook, herr] = sock.sslhandshake(false, ep.serverName, true);
    if (shook === undefined) {
      sock.close();
      return $multi(undefined, "TLS handshake with " + name + ": " + herr, "connect", false);
    }
  }

  const [sent, serr] = sock.send(text);
  if (sent === undefined) {
    sock.close();
    return $multi(undefined, "send to " + name + ": " + serr, "send", reused && serr !== "timeout");
  }

  const [statusLine, rerr] = sock.receive("*l");
  if (statusLine === undefined) {
    sock.close();
    return $multi(undefined, "receive from " + name + ": " + rerr, "receive", reused && rerr !== "timeout");
  }
  const [major, minor, code] = string.match(statusLine, "^HTTP/(%d)%.(%d) (%d%d%d)");
  if (code === undefined) {
    sock.close();
    return $multi(undefined, "bad status line from " + name + ": " + string.sub(statusLine, 1, 60), "protocol", false);
  }
  const status = tonumber(code)!;

  const headers: Headers = {};
  for (;;) {
    const [line, herr] = sock.receive("*l");
    if (line === undefined) {
      sock.close();
      return $multi(undefined, "receive headers from " + name + ": " + herr, "receive", false);
    }
    if (line === "") break;
    const [field, value] = string.match(line, "^([^:]+):%s*(.-)%s*$");
    if (field !== undefined) {
      const lower = string.lower(field);
      const seen = headers[lower];
      headers[lower] = seen === undefined ? value : seen + ", " + value;
    }
  }

  const connection = string.lower(headers["connection"] ?? "");
  let keepalive = major === "1" && minor === "1"
    ? string.find(connection, "close", 1, true)[0] === undefined
    : string.find(connection, "keep-alive", 1, true)[0] !== undefined;

  let mode: BodyMode;
  let length = 0;
  const te = string.lower(headers["transfer-encoding"] ?? "");
  if (method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    mode = "none";
  } else if (string.find(te, "chunked", 1, true)[0] !== undefined) {
    mode = "chunked";
  } else if (headers["content-length"] !== undefined) {
    const n = tonumber(headers["content-length"]);
    if (n === undefined || n < 0) {
      sock.close();
      return $multi(undefined, "bad Content-Length from " + name, "protocol", false);
    }
    mode = "length";
    length = n;
  } else {
    mode = "close";
    keepalive = false;
  }
  return $multi(new HttpStream(sock, timeoutMs, status, headers, mode, length, keepalive), undefined, undefined, reused);
}

/**
 * Sends a request and returns the response head; read the body from the stream.
 * timeoutMs bounds connect, send and each read (default 5000).
 * On failure returns [undefined, message, stage].
 */
export function openStream(
  ep: Endpoint,
  method: string,
  path: string,
  body?: string,
  timeoutMs?: number,
  transport?: Transport,
): LuaMultiReturn<[HttpStream, undefined, undefined] | [undefined, string, FailureStage]> {
  const t = timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const text = requestText(ep, method, path, body, transport);
  // A pooled keepalive connection may have been closed by the server while idle; the
  // request was then never read, so it is safe to send it again on another connection.
  for (let i = 0; i <= KEEPALIVE_POOL_SIZE; i++) {
    const [stream, err, stage, reused] = openOnce(ep, method, text, t, transport);
    if (stream !== undefined) return $multi(stream, undefined, undefined);
    if (!reused || (stage !== "send" && stage !== "receive")) return $multi(undefined, err!, stage!);
  }
  return $multi(undefined, "could not send to " + endpointName(ep) + " over a pooled connection", "send");
}

/**
 * One request, whole response: [status, body] or [undefined, message, stage].
 * body, when given, is sent as application/json.
 */
export function request(
  ep: Endpoint,
  method: string,
  path: string,
  body?: string,
  timeoutMs?: number,
  transport?: Transport,
): LuaMultiReturn<[number, string, undefined] | [undefined, string, FailureStage]> {
  const [stream, err, stage] = openStream(ep, method, path, body, timeoutMs, transport);
  if (stream === undefined) return $multi(undefined, err!, stage!);
  const [data, rerr] = stream.readAll();
  if (data === undefined) return $multi(undefined, rerr! + " (from " + endpointName(ep) + ")", "receive");
  return $multi(stream.status, data, undefined);
}
