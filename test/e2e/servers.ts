// Backends for the balancing and health suites, beside the harness's echo backend: an app
// server with a health endpoint of its own, a node-state endpoint (like plight: 200 enabled,
// 404 disabled, 503 offline), and a server that reads a request and drops the connection
// without an answer. All on 127.0.0.1, ports picked at run time; stopServers() closes them all.
import http from "node:http";
import net from "node:net";
import { HOST, serve, type Listening } from "./harness";

const open = new Set<{ stop(): Promise<void> }>();

export async function stopServers(): Promise<void> {
  const all = [...open];
  open.clear();
  await Promise.all(all.map((s) => s.stop()));
}

export interface App {
  name: string;
  port: number;
  addr: string;
  /** requests other than health checks, in order: [method, path, body] */
  requests: { method: string; path: string; body: string; cookie: string | undefined }[];
  hits(): number;
  /** GET /health answers this status */
  healthStatus: number;
  healthHits: number;
  /** GET /state answers this status: a node-state endpoint (200 enabled, 404 disabled, 503 offline) */
  stateStatus: number;
  /** other paths wait this long before answering */
  delayMs: number;
  /** connections refused from now on (the port stays reserved for restart) */
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Answers {"backend": name, ...} as JSON on any path; /health and /state answer their statuses. */
export async function startApp(name: string, opts: { delayMs?: number } = {}): Promise<App> {
  let listener: Listening | undefined;
  const app: App = {
    name,
    port: 0,
    addr: "",
    requests: [],
    hits: () => app.requests.length,
    healthStatus: 200,
    healthHits: 0,
    stateStatus: 200,
    delayMs: opts.delayMs ?? 0,
    async kill() {
      const l = listener;
      listener = undefined;
      await l?.close();
    },
    async restart() {
      await app.kill();
      listener = await serve(http.createServer(handler), app.port);
    },
    async stop() {
      open.delete(app);
      await app.kill();
    },
  };
  const handler: http.RequestListener = (req, res) => {
    const bufs: Buffer[] = [];
    req.on("data", (b: Buffer) => bufs.push(b));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/health") {
        app.healthHits++;
        res.writeHead(app.healthStatus, { "Content-Type": "text/plain" });
        res.end("health\n");
        return;
      }
      if (path === "/state") {
        res.writeHead(app.stateStatus, { "Content-Type": "text/plain" });
        res.end("state\n");
        return;
      }
      const body = Buffer.concat(bufs).toString();
      app.requests.push({ method: req.method ?? "", path, body, cookie: req.headers.cookie });
      const send = () => {
        if (res.destroyed) return;
        const text = JSON.stringify({ backend: name, method: req.method, path, body });
        res.writeHead(200, { "Content-Type": "application/json", "Set-Cookie": "app=1; Path=/" });
        res.end(text);
      };
      if (app.delayMs > 0) setTimeout(send, app.delayMs);
      else send();
    });
  };
  listener = await serve(http.createServer(handler));
  app.port = listener.port;
  app.addr = `${HOST}:${listener.port}`;
  open.add(app);
  return app;
}

export interface StatusServer {
  port: number;
  status: number;
  hits: number;
  stop(): Promise<void>;
}

/** A node-state endpoint: answers `status` on any path (plight's convention by default). */
export async function startStatusServer(status = 200): Promise<StatusServer> {
  const s: StatusServer = {
    port: 0,
    status,
    hits: 0,
    stop: async () => {
      open.delete(s);
      await l.close();
    },
  };
  const l = await serve(
    http.createServer((_req, res) => {
      s.hits++;
      res.writeHead(s.status, { "Content-Type": "text/plain" });
      res.end("state\n");
    }),
  );
  s.port = l.port;
  open.add(s);
  return s;
}

export interface Dropper {
  addr: string;
  /** what each connection sent before it was dropped */
  received: string[];
  stop(): Promise<void>;
}

/** Takes each request (reads until the headers and a short body arrived), then closes the connection without answering. */
export async function startDropper(): Promise<Dropper> {
  const d: Dropper = {
    addr: "",
    received: [],
    stop: async () => {
      open.delete(d);
      await l.close();
    },
  };
  const server = net.createServer((sock) => {
    let text = "";
    sock.on("data", (b) => {
      text += b.toString();
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const len = Number(/content-length: *(\d+)/i.exec(text)?.[1] ?? 0);
      if (text.length - end - 4 < len) return;
      d.received.push(text);
      text = "";
      sock.destroy();
    });
    sock.on("error", () => {});
  });
  const l = await serve(server);
  d.addr = `${HOST}:${l.port}`;
  open.add(d);
  return d;
}
