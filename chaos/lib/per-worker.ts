// One kept-alive connection to each worker of a node (a connection stays with the worker that
// accepted it), to read every worker's own view of the configuration.
import http from "node:http";

export interface WorkerConn {
  pid: number;
  get(path: string, headers?: Record<string, string>): Promise<any>;
  close(): void;
}

function getJson(agent: http.Agent, port: number, path: string, headers: Record<string, string>): Promise<any> {
  return new Promise((res, rej) => {
    const req = http.request({ host: "127.0.0.1", port, path, agent, headers, timeout: 5000 }, (r) => {
      const bufs: Buffer[] = [];
      r.on("data", (b) => bufs.push(b));
      r.on("end", () => {
        try {
          res(JSON.parse(Buffer.concat(bufs).toString()));
        } catch (e) {
          rej(e);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", rej);
    req.end();
  });
}

/** A connection to each of `workers` worker processes (found by trying new connections). */
export async function connectEachWorker(port: number, workers: number, headers: Record<string, string> = {}): Promise<WorkerConn[]> {
  const found = new Map<number, WorkerConn>();
  for (let i = 0; i < 60 && found.size < workers; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const s = await getJson(agent, port, "/__erulb__/status", headers);
    const pid = s?.answered_by?.pid;
    if (typeof pid !== "number" || found.has(pid)) {
      agent.destroy();
      continue;
    }
    found.set(pid, { pid, get: (path, h = {}) => getJson(agent, port, path, { ...headers, ...h }), close: () => agent.destroy() });
  }
  return [...found.values()];
}
