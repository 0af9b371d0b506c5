// @ts-check
// HTTP on 127.0.0.1: a client (one request, a fresh connection unless keepalive), a listener
// that can close with every connection it accepted, and "wait until this process answers".
import http from "node:http";
import { HOST, reservePort } from "./ports.mjs";
import { WaitAbort, waitFor } from "./wait.mjs";

/**
 * @typedef {object} RequestOptions
 * @property {string} [url]
 * @property {number} [port]
 * @property {string} [host]
 * @property {string} [path]
 * @property {string} [method]
 * @property {Record<string, string | string[]>} [headers] a `Host` (any case) is sent as given
 * @property {unknown} [body] string/Buffer sent as is; anything else is sent as JSON
 * @property {number} [timeoutMs] default 10 s
 * @property {boolean} [keepalive] reuse connections (request loops)
 */

/**
 * @typedef {object} Response
 * @property {number} status
 * @property {http.IncomingHttpHeaders} headers
 * @property {string} body
 * @property {any} json the body parsed as JSON, or undefined when it is not JSON
 */

const keepAliveAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** @param {Record<string, unknown>} headers @param {string} name */
const hasHeader = (headers, name) => Object.keys(headers).some((k) => k.toLowerCase() === name);

/**
 * One request, so a test can name any domain (Host) while connecting to 127.0.0.1.
 * @param {string | RequestOptions} target
 * @returns {Promise<Response>}
 */
export function request(target) {
  const o = typeof target === "string" ? { url: target } : target;
  let host = o.host ?? HOST;
  let port = o.port;
  let path = o.path ?? "/";
  if (o.url) {
    const u = new URL(o.url);
    host = u.hostname;
    port = Number(u.port || 80);
    path = o.path ?? u.pathname + u.search;
  }
  if (port === undefined) throw new Error("request: port or url is required");
  const method = o.method ?? "GET";
  /** @type {Record<string, string | string[]>} */
  const headers = { ...(o.headers ?? {}) };
  /** @type {Buffer | undefined} */
  let payload;
  if (o.body !== undefined) {
    if (typeof o.body === "string" || Buffer.isBuffer(o.body)) payload = Buffer.from(o.body);
    else {
      payload = Buffer.from(JSON.stringify(o.body));
      if (!hasHeader(headers, "content-type")) headers["Content-Type"] = "application/json";
    }
    headers["Content-Length"] = String(payload.length);
  }
  const timeoutMs = o.timeoutMs ?? 10000;
  return new Promise((res, rej) => {
    const agent = o.keepalive ? keepAliveAgent : false;
    const req = http.request({ host, port, path, method, headers, agent, setHost: !hasHeader(headers, "host") }, (r) => {
      /** @type {Buffer[]} */
      const bufs = [];
      r.on("data", (b) => bufs.push(b));
      r.on("error", rej);
      r.on("end", () => {
        const body = Buffer.concat(bufs).toString();
        let json;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        res({ status: r.statusCode ?? 0, headers: r.headers, body, json });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out after ${timeoutMs} ms: ${method} ${host}:${port}${path}`)));
    req.on("error", rej);
    if (payload) req.write(payload);
    req.end();
  });
}

/**
 * @typedef {object} Listening
 * @property {number} port
 * @property {() => Promise<void>} close closes the listener and destroys every connection
 */

/**
 * Listens with `server` (http or net) on 127.0.0.1:port (0: any free port), keeping track of
 * its connections so that close() does not wait for idle keepalive ones.
 * @param {import("node:net").Server} server @param {number} [port]
 * @returns {Promise<Listening>}
 */
export async function serve(server, port = 0) {
  /** @type {Set<import("node:net").Socket>} */
  const sockets = new Set();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  if (server instanceof http.Server) server.keepAliveTimeout = 65000;
  const got = await new Promise((res, rej) => {
    server.once("error", rej);
    server.listen({ host: HOST, port, exclusive: true }, () => res(/** @type {import("node:net").AddressInfo} */ (server.address()).port));
  });
  reservePort(got);
  let open = true;
  return {
    port: got,
    close: () =>
      new Promise((res) => {
        if (!open) return res();
        open = false;
        for (const s of sockets) s.destroy();
        sockets.clear();
        server.close(() => res());
      }),
  };
}

/**
 * Waits until `proc` answers HTTP on `port` with a status that `ok` accepts (default: any);
 * fails at once when it exits.
 * @param {{ port: number, proc: import("./procs.mjs").Proc, name: string, path?: string,
 *   headers?: Record<string, string>, ok?: (status: number) => boolean, timeoutMs?: number,
 *   more?: () => string }} o more: text added to the error when the process exited (its logs)
 */
export async function waitAnswering({ port, proc, name, path = "/", headers = {}, ok = () => true, timeoutMs = 20000, more = () => "" }) {
  await waitFor(
    async () => {
      if (!proc.alive()) throw new WaitAbort(`${name} exited:\n${proc.output().slice(-4000)}\n${more()}`);
      try {
        return ok((await request({ port, path, headers, timeoutMs: 2000 })).status);
      } catch {
        return false;
      }
    },
    timeoutMs,
    `${name} on ${HOST}:${port}`,
    50,
  );
}
