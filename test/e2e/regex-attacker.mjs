// A client that sends a regex-backtracking attack for test/e2e/regex-bound.test.ts, in its own
// process (so that its work does not delay the test's own measurements): `connections` keepalive
// connections, each sending GET / with `Host: <host>` and a User-Agent of 30 "a" then "b", then
// waiting `gapMs` after each answer, for `seconds`. Prints one JSON line at the end:
// {requests, statuses: {code: n}, backends: {name: n}, p50_ms, p99_ms, max_ms}.
//   node test/e2e/regex-attacker.mjs <port> <host> <connections> <gapMs> <seconds>
import http from "node:http";

const [port, host, connections, gapMs, seconds] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) });
const ua = "a".repeat(30) + "b";
const end = Date.now() + Number(seconds) * 1000;
const statuses = {};
const backends = {};
const times = [];

function once() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: "127.0.0.1", port: Number(port), path: "/", agent, headers: { Host: host, "User-Agent": ua } }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        try {
          const name = JSON.parse(body).backend;
          backends[name] = (backends[name] ?? 0) + 1;
        } catch {
          backends["(not JSON)"] = (backends["(not JSON)"] ?? 0) + 1;
        }
        resolve();
      });
    });
    req.on("error", () => {
      statuses.error = (statuses.error ?? 0) + 1;
      resolve();
    });
    req.end();
  });
}

async function loop() {
  while (Date.now() < end) {
    await once();
    await new Promise((r) => setTimeout(r, Number(gapMs)));
  }
}

await Promise.all(Array.from({ length: Number(connections) }, loop));
agent.destroy();
times.sort((a, b) => a - b);
const q = (p) => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))] : 0);
process.stdout.write(JSON.stringify({ requests: times.length, statuses, backends, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: q(1) }) + "\n");
