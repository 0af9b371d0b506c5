// Ports picked at run time on 127.0.0.1, a small HTTP client, and a UDP statsd listener.
import { createSocket } from "node:dgram";
import http from "node:http";
import net from "node:net";

export const HOST = "127.0.0.1";

const handedOut = new Set();

function probe(port) {
  return new Promise((res) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => res(undefined));
    srv.listen({ host: HOST, port, exclusive: true }, () => {
      const p = srv.address().port;
      srv.close(() => res(p));
    });
  });
}

/** A TCP port on 127.0.0.1 that is free now and was not handed out before. */
export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const p = await probe(0);
    if (p && !handedOut.has(p)) {
      handedOut.add(p);
      return p;
    }
  }
  throw new Error("no free port");
}

/** Two free consecutive ports (etcd: client, peer); returns the first. */
export async function freePortPair() {
  for (let i = 0; i < 400; i++) {
    const p = await probe(0);
    if (!p || p >= 65535 || handedOut.has(p) || handedOut.has(p + 1)) continue;
    if ((await probe(p + 1)) === p + 1) {
      handedOut.add(p);
      handedOut.add(p + 1);
      return p;
    }
  }
  throw new Error("no free port pair");
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

/**
 * One HTTP request to 127.0.0.1:port. body: a string, or anything else sent as JSON.
 * keepAlive: reuse connections (for request loops). Resolves {status, body, json}.
 */
export function request({ port, path = "/", method = "GET", headers = {}, body, timeoutMs = 10000, keepalive = false }) {
  let payload;
  const h = { ...headers };
  if (body !== undefined) {
    payload = Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
    h["Content-Length"] = String(payload.length);
    if (typeof body !== "string") h["Content-Type"] = "application/json";
  }
  return new Promise((res, rej) => {
    const req = http.request({ host: HOST, port, path, method, headers: h, agent: keepalive ? keepAlive : false }, (r) => {
      const bufs = [];
      r.on("data", (b) => bufs.push(b));
      r.on("error", rej);
      r.on("end", () => {
        const text = Buffer.concat(bufs).toString();
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        res({ status: r.statusCode ?? 0, body: text, json });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} 127.0.0.1:${port}${path} timed out after ${timeoutMs} ms`)));
    req.on("error", rej);
    if (payload) req.write(payload);
    req.end();
  });
}

/** A statsd listener on 127.0.0.1: counts datagrams, lines and bytes. */
export async function startStatsd() {
  const sock = createSocket("udp4");
  const stats = { datagrams: 0, lines: 0, bytes: 0 };
  sock.on("message", (msg) => {
    stats.datagrams += 1;
    stats.bytes += msg.length;
    let n = 1;
    for (let i = 0; i < msg.length; i++) if (msg[i] === 10) n += 1;
    stats.lines += n;
  });
  await new Promise((res, rej) => {
    sock.once("error", rej);
    sock.bind(0, HOST, res);
  });
  const port = sock.address().port;
  return {
    port,
    addr: `${HOST}:${port}`,
    stats,
    snapshot: () => ({ ...stats }),
    close: () => new Promise((res) => sock.close(() => res())),
  };
}
