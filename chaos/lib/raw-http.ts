// One HTTP exchange over a raw socket: any request line and headers, the answer read to the
// end (the request asks the server to close).
import net from "node:net";

export interface RawAnswer {
  status: number;
  headers: string;
  body: string;
  ms: number;
}

export function rawRequest(port: number, head: string | Buffer, timeoutMs = 2000): Promise<RawAnswer> {
  return new Promise((res, rej) => {
    const started = Date.now();
    const sock = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      rej(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("connect", () => sock.write(head));
    sock.on("data", (b) => chunks.push(b));
    sock.on("error", (e) => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      if (text) res(parse(text, started));
      else rej(e);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      res(parse(Buffer.concat(chunks).toString("latin1"), started));
    });
  });
}

function parse(text: string, started: number): RawAnswer {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  const split = text.indexOf("\r\n\r\n");
  return { status: m ? Number(m[1]) : 0, headers: split < 0 ? text : text.slice(0, split), body: split < 0 ? "" : text.slice(split + 4), ms: Date.now() - started };
}

/** A request: `line` ("GET / HTTP/1.1"), headers as [name, value] pairs (repeats allowed). */
export function requestText(line: string, headers: [string, string][]): string {
  return `${line}\r\n${headers.map(([k, v]) => `${k}: ${v}`).join("\r\n")}${headers.length ? "\r\n" : ""}Connection: close\r\n\r\n`;
}
