// @ts-check
// A backend for the end-to-end suites: an HTTP server answering every request with what it
// received, as JSON, so a test sees exactly what the ELB forwarded.
import http from "node:http";
import { serve } from "./http.mjs";
import { HOST } from "./ports.mjs";
import { track } from "./procs.mjs";

/**
 * @typedef {object} BackendRequest
 * @property {string} method
 * @property {string} path without the query
 * @property {string} url with it
 * @property {http.IncomingHttpHeaders} headers
 * @property {string} body
 */

/**
 * @typedef {object} BackendOptions
 * @property {number} [status] status to answer, default 200
 * @property {number} [delayMs] delay before answering
 * @property {number} [port] port to listen on, default a free one
 */

/**
 * @typedef {object} Backend
 * @property {string} name
 * @property {number} port
 * @property {string} addr "127.0.0.1:port", the form an upstream server takes
 * @property {string} url
 * @property {BackendRequest[]} requests every request received, in order
 * @property {() => number} hits
 * @property {(opts: Pick<BackendOptions, "status" | "delayMs">) => void} set changes the answer of later requests
 * @property {() => Promise<void>} stop closes the listener and every connection
 * @property {() => Promise<void>} kill the same as stop(): connections are destroyed, new ones refused
 * @property {() => Promise<void>} restart listens again on the same port
 */

/**
 * Answers `{backend: name, method, path, url, headers, body}` as JSON.
 * @param {string} name @param {BackendOptions} [opts]
 * @returns {Promise<Backend>}
 */
export async function startBackend(name, opts = {}) {
  let status = opts.status ?? 200;
  let delayMs = opts.delayMs ?? 0;
  /** @type {BackendRequest[]} */
  const requests = [];
  /** @type {http.RequestListener} */
  const answer = (req, res) => {
    /** @type {Buffer[]} */
    const bufs = [];
    req.on("data", (b) => bufs.push(b));
    req.on("end", () => {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const entry = { method: req.method ?? "", path: q < 0 ? url : url.slice(0, q), url, headers: req.headers, body: Buffer.concat(bufs).toString() };
      requests.push(entry);
      const send = () => {
        if (res.destroyed) return;
        const body = JSON.stringify({ backend: name, ...entry });
        res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
        res.end(body);
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  };
  let listening = await serve(http.createServer(answer), opts.port ?? 0);
  const close = () => listening.close();
  /** @type {Backend} */
  const handle = {
    name,
    port: listening.port,
    addr: `${HOST}:${listening.port}`,
    url: `http://${HOST}:${listening.port}`,
    requests,
    hits: () => requests.length,
    set(o) {
      if (o.status !== undefined) status = o.status;
      if (o.delayMs !== undefined) delayMs = o.delayMs;
    },
    stop: close,
    kill: close,
    async restart() {
      await close();
      listening = await serve(http.createServer(answer), handle.port);
      track(handle);
    },
  };
  return track(handle);
}
