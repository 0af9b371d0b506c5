// Request-path abuse: Host variants, huge and many headers, encoded paths and traversal through
// a rewrite rule, a regex built to backtrack against a hostile User-Agent, and attempts to reach
// the admin API from outside ELB_ADMIN_ALLOW or without the token.
import { startBackend, startElb, startEtcd, stopAll, type Elb } from "../../test/harness/index.mjs";
import { readState } from "../lib/etcd-state";
import { rawRequest, requestText } from "../lib/raw-http";
import { Tally } from "../lib/tally";
import { LogWatch, workerSet } from "../lib/watch";
import type { Options } from "../run";

const TOKEN = "chaos-token-0123456789";
type Problem = { what: string; detail?: string; severity?: number };

export async function run(opts: Options): Promise<Tally> {
  const t = new Tally("request", "Request-path abuse");
  const etcd = await startEtcd();
  const backend = await startBackend("req");
  const elb = await startElb({ etcd: etcd.endpoint, workers: 2, env: { ...opts.env, ELB_ADMIN_TOKEN: TOKEN } });
  const fenced = await startElb({ etcd: etcd.endpoint, elbName: "FENCED", workers: 2, env: { ...opts.env, ELB_ADMIN_ALLOW: "10.99.0.0/16", ELB_ADMIN_TOKEN: TOKEN } });
  try {
    await elb.waitLoaded(15000);
    const put = async (resource: string, body: unknown) => {
      const r = await elb.api("PUT", resource, body);
      if (r.status !== 200) throw new Error(`setup: PUT ${resource}: ${r.status} ${r.body}`);
    };
    await put("upstream", { up1: { [backend.addr]: "" } });
    const to = (name: string) => ({ type: "backend", args: { servername: "up1", "X-Route": name } });
    await put("domain", {
      "app.test": { init: "b", rules: { b: to("app") } },
      "rew.test": { init: "p", rules: { p: { type: "path", args: { pattern: "^/app/(.*)$", regex: true, rewrite: true, succ: "b" } }, b: to("rew") } },
      "re.test": { init: "u", rules: { u: { type: "ua", args: { pattern: "^(a+)+$", succ: "b", fail: "b" } }, b: to("re") } },
    });
    const logs = [LogWatch.of(elb), LogWatch.of(fenced)];
    const workers = [workerSet(elb), workerSet(fenced)];
    const finish = (name: string, problems: Problem[]) => {
      for (const log of logs) for (const line of log.crashes()) problems.push({ what: "crash or Lua error in the error log", detail: line, severity: 9 });
      if (workerSet(elb) !== workers[0] || workerSet(fenced) !== workers[1]) problems.push({ what: "a worker died", severity: 10 });
      t.count(name, problems);
    };
    const send = async (node: Elb, text: string | Buffer, timeoutMs = 2000) => rawRequest(node.port, text, timeoutMs).catch((e) => ({ status: -1, headers: "", body: String(e), ms: timeoutMs }));
    const routeOf = (body: string): string | undefined => {
      try {
        return JSON.parse(body).headers?.["x-route"];
      } catch {
        return undefined;
      }
    };

    // ---- Host variants: [Host headers, request line, the statuses and route a user expects]
    const hosts: [string, [string, string][], string, number[], string | undefined][] = [
      ["plain", [["Host", "app.test"]], "GET / HTTP/1.1", [200], "app"],
      ["uppercase", [["Host", "APP.TEST"]], "GET / HTTP/1.1", [200], "app"],
      ["trailing dot", [["Host", "app.test."]], "GET / HTTP/1.1", [200], "app"],
      ["with a port", [["Host", "app.test:8080"]], "GET / HTTP/1.1", [200], "app"],
      ["IPv6 literal", [["Host", "[::1]"]], "GET / HTTP/1.1", [404], undefined],
      ["IPv6 literal and port", [["Host", "[::1]:80"]], "GET / HTTP/1.1", [404], undefined],
      ["absolute-form request line", [["Host", "other.test"]], "GET http://app.test/ HTTP/1.1", [200], "app"],
      ["absolute-form to an unknown host", [["Host", "app.test"]], "GET http://nope.test/ HTTP/1.1", [404], undefined],
      ["two Host headers", [["Host", "app.test"], ["Host", "other.test"]], "GET / HTTP/1.1", [400], undefined],
      ["no Host (HTTP/1.1)", [], "GET / HTTP/1.1", [400], undefined],
      ["no Host (HTTP/1.0)", [], "GET / HTTP/1.0", [404], undefined],
      ["an empty Host", [["Host", ""]], "GET / HTTP/1.1", [400], undefined],
      ["a space in Host", [["Host", "app test"]], "GET / HTTP/1.1", [400, 404], undefined],
      ["a slash in Host", [["Host", "app.test/x"]], "GET / HTTP/1.1", [400], undefined],
      ["a 10 KiB Host", [["Host", "a".repeat(10240)]], "GET / HTTP/1.1", [400, 494], undefined],
      ["a wildcard-looking Host", [["Host", "*.test"]], "GET / HTTP/1.1", [404, 400], undefined],
      ["Host with userinfo", [["Host", "user@app.test"]], "GET / HTTP/1.1", [400, 404], undefined],
      ["X-Forwarded-Host does not route", [["Host", "nope.test"], ["X-Forwarded-Host", "app.test"]], "GET / HTTP/1.1", [404], undefined],
    ];
    for (const [what, headers, line, statuses, route] of hosts) {
      const r = await send(elb, requestText(line, headers));
      const problems: Problem[] = [];
      if (r.status < 0) problems.push({ what: "no answer", detail: r.body, severity: 8 });
      else if (!statuses.includes(r.status)) problems.push({ what: r.status >= 500 ? "answered >= 500" : "an unexpected answer", detail: `${r.status}, expected ${statuses.join("/")}: ${r.body.slice(0, 120)}`, severity: r.status >= 500 ? 8 : 4 });
      else if (route !== undefined && routeOf(r.body) !== route) problems.push({ what: "routed to the wrong place", detail: `${routeOf(r.body)}, expected ${route}`, severity: 7 });
      if (process.env.CHAOS_VERBOSE) console.log(what, r.status, routeOf(r.body));
      finish(`Host: ${what}`, problems);
    }

    // ---- headers: many, huge, and a hostile User-Agent against a backtracking regex
    const headerCases: [string, [string, string][], string, number[], number][] = [
      ["100 headers", Array.from({ length: 100 }, (_, i) => [`X-H${i}`, "v".repeat(100)] as [string, string]), "app.test", [200], 2000],
      ["1000 headers", Array.from({ length: 1000 }, (_, i) => [`X-H${i}`, "v".repeat(100)] as [string, string]), "app.test", [200, 400, 431, 494], 2000],
      ["a 7 KiB header", [["X-Big", "v".repeat(7000)]], "app.test", [200], 2000],
      ["a 16 KiB header", [["X-Big", "v".repeat(16384)]], "app.test", [400, 431, 494], 2000],
      ["a 1 MiB header", [["X-Big", "v".repeat(1 << 20)]], "app.test", [400, 431, 494, -1], 2000],
      ["a header with a NUL", [["X-Nul", "a\u0000b"]], "app.test", [200, 400], 2000],
      ["a header name with a space", [["X Bad", "1"]], "app.test", [200, 400], 2000],
      ["a 6 KiB User-Agent of a's then b, against ^(a+)+$", [["User-Agent", `${"a".repeat(6000)}b`]], "re.test", [200], 2000],
      ["a 30-character User-Agent of a's then b, against ^(a+)+$", [["User-Agent", `${"a".repeat(30)}b`]], "re.test", [200], 2000],
      ["User-Agent of invalid UTF-8", [["User-Agent", "\xff\xfe\xc0"]], "re.test", [200], 2000],
    ];
    for (const [what, headers, host, statuses, limit] of headerCases) {
      const text = Buffer.from(requestText("GET / HTTP/1.1", [["Host", host], ...headers]), "latin1");
      const r = await send(elb, text, limit + 3000);
      const problems: Problem[] = [];
      if (!statuses.includes(r.status)) problems.push({ what: r.status >= 500 ? "answered >= 500" : "an unexpected answer", detail: `${r.status}, expected ${statuses.join("/")}: ${r.body.slice(0, 120)}`, severity: r.status >= 500 ? 8 : 4 });
      if (r.ms > limit) problems.push({ what: "slower than 2 s", detail: `${r.ms} ms`, severity: 8 });
      finish(`headers: ${what}`, problems);
    }

    // ---- paths through the rewrite rule ^/app/(.*)$ -> "/" + capture: never above the prefix
    const paths = ["/app/x", "/app/../../etc/passwd", "/app/%2e%2e/%2e%2e/secret", "/app/..%2f..%2fsecret", "/app/%2e%2e%2f%2e%2e%2fsecret", "/app/%252e%252e/x", "/app/x/../../y",
      "/app/./././x", "/app//x", "/app/x%00y", "/app/\u00e9", "/app/%c0%ae%c0%ae/x", "/app/x?q=../../", "/app/" + "a".repeat(6000), "/%61pp/x", "/APP/x", "/app", "/app/..", "/app/.%2e/x"];
    for (const path of paths) {
      const r = await send(elb, Buffer.from(requestText(`GET ${path} HTTP/1.1`, [["Host", "rew.test"]]), "latin1"));
      const problems: Problem[] = [];
      if (r.status < 0) problems.push({ what: "no answer", detail: r.body, severity: 8 });
      if (r.status >= 500) problems.push({ what: "answered >= 500", detail: `${r.status} ${r.body.slice(0, 150)}`, severity: 8 });
      if (r.status === 200) {
        let got = "";
        try {
          got = JSON.parse(r.body).url;
        } catch {
          problems.push({ what: "an answer that is not the backend's", detail: r.body.slice(0, 100) });
        }
        let decoded = got;
        try {
          decoded = decodeURIComponent(got.split("?")[0]);
        } catch {
          /* keep it raw */
        }
        if (/(^|\/)\.\.(\/|$)/.test(decoded) || !got.startsWith("/") || got.startsWith("//")) {
          problems.push({ what: "a path above the rewrite's prefix reached the backend", detail: `${path} -> ${got}`, severity: 9 });
        }
      }
      if (process.env.CHAOS_VERBOSE) console.log(path.slice(0, 40), r.status, r.body.slice(0, 80));
      finish(`rewrite: GET ${path.slice(0, 80)}`, problems);
    }

    // ---- the admin API from outside ELB_ADMIN_ALLOW, and with wrong tokens
    const adminPaths = ["/__erulb__/status", "/__erulb__/domain", "/%5F_erulb__/status", "/__erulb%5F_/domain", "//__erulb__/status", "/__erulb__%2Fstatus", "/__ERULB__/status",
      "/./__erulb__/status", "/x/../__erulb__/status", "/__erulb__/./status", "/__erulb__/status/", "/__erulb__;x/status", "/__erulb__/%73tatus", "/__erulb__/status%00"];
    const spoof: [string, string][][] = [[], [["X-Forwarded-For", "10.99.0.1"]], [["X-Real-IP", "10.99.0.1"]], [["Forwarded", "for=10.99.0.1"]], [["Authorization", `Bearer ${TOKEN}`], ["X-Forwarded-For", "10.99.0.1"]]];
    const reached = (body: string) => /"node"|"elbname"|"invalid_keys"|"msg":"OK"/.test(body);
    const before = await readState(etcd.endpoint, "FENCED");
    for (const path of adminPaths) {
      for (const headers of spoof) {
        for (const [method, body] of [["GET", ""], ["PUT", '{"evil.test":{"init":"b","rules":{"b":{"type":"backend","args":{"servername":"127.0.0.1:9"}}}}}']]) {
          const extra: [string, string][] = body ? [["Content-Type", "application/json"], ["Content-Length", String(body.length)]] : [];
          const text = requestText(`${method} ${path} HTTP/1.1`, [["Host", "x.test"], ...headers, ...extra]) + body;
          for (const line of [text, text.replace(`${method} ${path}`, `${method} http://x.test${path}`)]) {
            const r = await send(fenced, line);
            const problems: Problem[] = [];
            if (reached(r.body) || (r.status >= 200 && r.status < 300)) problems.push({ what: "the admin API answered a caller outside ELB_ADMIN_ALLOW", detail: `${r.status} ${r.body.slice(0, 120)}`, severity: 10 });
            if (r.status >= 500) problems.push({ what: "answered >= 500", detail: `${r.status}`, severity: 6 });
            finish(`bypass: ${method} ${line.split("\r\n")[0].slice(0, 80)} ${headers.map(([k]) => k).join(",")}`, problems);
          }
        }
      }
    }
    const after = await readState(etcd.endpoint, "FENCED");
    finish("bypass: nothing was written by the attempts", after.size !== before.size ? [{ what: "an attempt from outside ELB_ADMIN_ALLOW wrote to etcd", severity: 10 }] : []);
    const tokens = ["", "Bearer", "Bearer ", `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.toUpperCase()}`, `Basic ${TOKEN}`, TOKEN, `Bearer ${TOKEN} ${TOKEN}`, `Bearer\t${TOKEN}`,
      `Bearer ${TOKEN}\u0000`, `Token ${TOKEN}`, `Bearer "${TOKEN}"`, `Bearer ${Buffer.from(TOKEN).toString("base64")}`];
    for (const tok of tokens) {
      for (const path of ["/__erulb__/status", "/__erulb__/domain"]) {
        const r = await send(elb, Buffer.from(requestText(`GET ${path} HTTP/1.1`, [["Host", "x.test"], ["Authorization", tok]]), "latin1"));
        const problems: Problem[] = [];
        if (r.status !== 403 && r.status !== 400) problems.push({ what: "the admin API took a wrong token", detail: `${JSON.stringify(tok)}: ${r.status} ${r.body.slice(0, 100)}`, severity: 10 });
        finish(`token ${JSON.stringify(tok).slice(0, 60)} on ${path}`, problems);
      }
    }
    // with the right token, from an allowed address: only the API's own paths reach it
    for (const path of adminPaths.slice(2)) {
      const r = await send(elb, Buffer.from(requestText(`GET ${path} HTTP/1.1`, [["Host", "x.test"], ["Authorization", `Bearer ${TOKEN}`]]), "latin1"));
      const own = path === "/__erulb__/status/";
      const problems: Problem[] = [];
      if (!own && reached(r.body)) problems.push({ what: "the admin API answered on a path it does not own", detail: `${path}: ${r.status} ${r.body.slice(0, 100)}`, severity: 7 });
      finish(`own paths only: ${path}`, problems);
    }
    const right = await send(elb, requestText("GET /__erulb__/status HTTP/1.1", [["Host", "x.test"], ["Authorization", `Bearer ${TOKEN}`]]));
    finish("the right token is taken", right.status === 200 ? [] : [{ what: "the right token was refused", detail: `${right.status}` }]);
    t.notes.push(`${hosts.length} Host variants, ${headerCases.length} header cases, ${paths.length} paths through a rewrite rule, ${adminPaths.length * spoof.length * 4} admin bypass attempts against ELB_ADMIN_ALLOW=10.99.0.0/16 with a token, ${tokens.length * 2} wrong tokens`);
  } finally {
    await stopAll();
  }
  return t;
}
