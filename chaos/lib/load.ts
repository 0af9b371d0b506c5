// Traffic at a bounded rate through keep-alive connections, failures counted with their time.
import http from "node:http";

export interface LoadResult {
  sent: number;
  failed: number;
  /** the first failures: ms since the start, and what happened */
  failures: string[];
  p99ms: number;
  maxMs: number;
}

export interface Load {
  /** resolves when the duration is over and every request answered */
  done: Promise<LoadResult>;
}

/** `rate` requests per second for `ms` to host `host` on `port`, path `path`. */
export function load(port: number, host: string, rate: number, ms: number, path = "/"): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const started = Date.now();
  let sent = 0;
  let failed = 0;
  const failures: string[] = [];
  const times: number[] = [];
  const pending: Promise<void>[] = [];
  const fail = (what: string) => {
    failed++;
    if (failures.length < 20) failures.push(`${Date.now() - started} ms: ${what}`);
  };
  const one = () =>
    new Promise<void>((res) => {
      const t0 = Date.now();
      const req = http.request({ host: "127.0.0.1", port, path, headers: { Host: host }, agent, timeout: 5000 }, (r) => {
        r.resume();
        r.on("end", () => {
          times.push(Date.now() - t0);
          if (r.statusCode !== 200) fail(`status ${r.statusCode}`);
          res();
        });
        r.on("error", (e) => {
          fail(e.message);
          res();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timed out after 5 s")));
      req.on("error", (e) => {
        fail(e.message);
        res();
      });
      req.end();
    });
  const done = (async () => {
    const interval = 1000 / rate;
    while (Date.now() - started < ms) {
      const due = started + sent * interval;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sent++;
      pending.push(one());
    }
    await Promise.all(pending);
    agent.destroy();
    times.sort((a, b) => a - b);
    return { sent, failed, failures, p99ms: times[Math.floor(times.length * 0.99)] ?? 0, maxMs: times[times.length - 1] ?? 0 };
  })();
  return { done };
}
