// WebSocket (and any Upgrade) through both listeners: a ws echo server behind ELB; messages
// both ways and a close, over HTTP and HTTPS; an upgraded connection outlives the policy's read
// timeout unless timeouts.upgraded says otherwise; it counts as in flight for least_conn; an
// ordinary request still reuses the kept-alive connection to its server.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { Ca, Elb, Etcd, HOST, makeCa, makeCert, serve, sleep, startElb, startEtcd, stopAll, waitFor } from "./harness";

let etcd: Etcd;
let elb: Elb;
let ca: Ca;

interface EchoServer {
  name: string;
  addr: string;
  /** remote ports of the plain HTTP requests, in order (the same port: a reused connection) */
  httpPorts: number[];
  connectionHeaders: (string | undefined)[];
  open: () => number;
}

const servers: EchoServer[] = [];
const listeners: { close(): Promise<void> }[] = [];

/** An HTTP server that answers {"server"} and echoes WebSocket messages as "<name>:<message>". */
async function startEcho(name: string): Promise<EchoServer> {
  const s: EchoServer = { name, addr: "", httpPorts: [], connectionHeaders: [], open: () => wss.clients.size };
  const server = http.createServer((req, res) => {
    s.httpPorts.push(req.socket.remotePort ?? 0);
    s.connectionHeaders.push(req.headers.connection);
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ server: name }));
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws, req) => {
    ws.send(`${name}:hello ${req.headers["x-forwarded-proto"]}`);
    ws.on("message", (m) => ws.send(`${name}:${m}`));
  });
  const l = await serve(server);
  listeners.push({ close: () => (wss.close(), l.close()) });
  s.addr = `${HOST}:${l.port}`;
  servers.push(s);
  return s;
}

interface Client {
  ws: WebSocket;
  messages: string[];
  closed: Promise<number>;
  next(): Promise<string>;
}

async function connect(domain: string, tls: boolean): Promise<Client> {
  const url = tls ? `wss://${HOST}:${elb.tlsPort}/ws` : `ws://${HOST}:${elb.port}/ws`;
  const ws = new WebSocket(url, { headers: { Host: domain }, ca: ca.cert, servername: tls ? domain : undefined } as WebSocket.ClientOptions);
  const messages: string[] = [];
  const waiting: ((m: string) => void)[] = [];
  ws.on("message", (m) => {
    const text = m.toString();
    const w = waiting.shift();
    if (w) w(text);
    else messages.push(text);
  });
  const closed = new Promise<number>((res) => ws.on("close", (code) => res(code)));
  await new Promise<void>((res, rej) => {
    ws.once("open", () => res());
    ws.once("error", rej);
    ws.once("unexpected-response", (_req, r) => rej(new Error(`status ${r.statusCode}`)));
  });
  return {
    ws,
    messages,
    closed,
    next: () => (messages.length ? Promise.resolve(messages.shift()!) : new Promise((res) => waiting.push(res))),
  };
}

const rules = (up: string) => ({ init: "b", rules: { b: { type: "backend", args: { servername: up } } } });

beforeAll(async () => {
  etcd = await startEtcd();
  elb = await startElb({ etcd: etcd.endpoint, tls: true, workers: 2 });
  await elb.waitLoaded();
  ca = makeCa();
  const c = makeCert(ca, { names: ["*.ws.test"] });
  expect((await elb.api("PUT", "cert", { default: { cert: c.cert, key: c.key } })).status).toBe(200);
  const a = await startEcho("A");
  const b = await startEcho("B");
  expect((await elb.api("PUT", "upstream", { echo: { [a.addr]: "" }, lc: { [a.addr]: "", [b.addr]: "" }, short: { [b.addr]: "" } })).status).toBe(200);
  expect((await elb.api("PUT", "policy", { echo: { timeouts: { read: 1 } }, lc: { algorithm: "least_conn" }, short: { timeouts: { read: 30, upgraded: 1 } } })).status).toBe(200);
  expect((await elb.api("PUT", "domain", { "echo.ws.test": rules("echo"), "lc.ws.test": rules("lc"), "short.ws.test": rules("short") })).status).toBe(200);
});

afterAll(async () => {
  await stopAll();
  for (const l of listeners) await l.close();
});

describe("WebSocket through ELB", () => {
  for (const tls of [false, true]) {
    it(`echoes both ways and closes cleanly over ${tls ? "HTTPS (wss)" : "HTTP (ws)"}`, async () => {
      const c = await connect("echo.ws.test", tls);
      expect(await c.next()).toBe(`A:hello ${tls ? "https" : "http"}`);
      for (const m of ["one", "two", "x".repeat(70000)]) {
        c.ws.send(m);
        expect(await c.next()).toBe(`A:${m}`);
      }
      c.ws.close(1000, "bye");
      expect(await c.closed).toBe(1000);
    });
  }

  it("stays open while silent for longer than the policy's read timeout (1 s): upgraded connections idle a day by default", async () => {
    const c = await connect("echo.ws.test", false);
    expect(await c.next()).toBe("A:hello http");
    await sleep(2500);
    c.ws.send("still there");
    expect(await c.next()).toBe("A:still there");
    c.ws.close();
    await c.closed;
  });

  it("is closed after timeouts.upgraded seconds of silence when the policy sets it", async () => {
    const c = await connect("short.ws.test", true);
    expect(await c.next()).toBe("B:hello https");
    const t0 = Date.now();
    const code = await Promise.race([c.closed, sleep(5000).then(() => -1)]);
    expect(code).not.toBe(-1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it("counts as in flight for least_conn: new requests go to the other server while it is open", async () => {
    const c = await connect("lc.ws.test", false);
    const first = (await c.next()).split(":")[0];
    await sleep(200); // the in-flight counts are published every 50 ms
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await elb.request({ path: "/", headers: { Host: "lc.ws.test" } })).json.server);
    expect([...seen]).toEqual([first === "A" ? "B" : "A"]);
    const up = (await elb.api("GET", "upstream")).json.lc;
    expect(up.reduce((n: number, s: { active: number }) => n + s.active, 0)).toBeGreaterThanOrEqual(1);
    c.ws.close();
    await c.closed;
    await waitFor(async () => (await elb.api("GET", "upstream")).json.lc.every((s: { active: number }) => s.active === 0), 3000, "no request in flight");
  });

  it("ordinary requests send an empty Connection header and reuse the kept-alive connection to their server", async () => {
    const a = servers.find((s) => s.name === "A")!;
    a.httpPorts.length = 0;
    a.connectionHeaders.length = 0;
    for (let i = 0; i < 5; i++) expect((await elb.request({ path: "/", headers: { Host: "echo.ws.test" }, keepalive: true })).status).toBe(200);
    // two workers: at most one kept-alive connection each
    expect(new Set(a.httpPorts).size).toBeLessThanOrEqual(2);
    expect(a.connectionHeaders.every((h) => h === undefined)).toBe(true);
  });
});

