// The end-to-end harness itself: every helper does what the suites rely on.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  etcdctl,
  freePort,
  freePortPair,
  LAUNCH_SH,
  parseStatsdLine,
  request,
  sendUdp,
  startBackend,
  startElb,
  startEtcd,
  startStatsd,
  stopAll,
  waitFor,
} from "./harness.ts";

afterAll(stopAll);

describe("harness", () => {
  it("freePort returns distinct ports that can be listened on", async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    expect(new Set(ports).size).toBe(3);
    for (const port of ports) {
      const srv = net.createServer();
      await new Promise<void>((res, rej) => {
        srv.once("error", rej);
        srv.listen({ host: "127.0.0.1", port }, () => res());
      });
      await new Promise<void>((res) => srv.close(() => res()));
    }
    const p = await freePortPair();
    expect(ports).not.toContain(p);
  });

  it("starts etcd, which answers put and get through etcdctl, and stops it", async () => {
    const etcd = await startEtcd();
    expect(etcd.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    await etcdctl(etcd.endpoint, "put", "/ELB/upstreams/up1/127.0.0.1:8088", "weight=10");
    const got = await etcdctl(etcd.endpoint, "get", "/ELB/upstreams/up1/127.0.0.1:8088", "--print-value-only");
    expect(got.stdout.trim()).toBe("weight=10");

    await etcd.stop();
    await expect(etcdctl(etcd.endpoint, "get", "/x")).rejects.toThrow();
    await etcd.restart();
    const again = await etcdctl(etcd.endpoint, "get", "/ELB/upstreams/up1/127.0.0.1:8088", "--print-value-only");
    expect(again.stdout.trim()).toBe("weight=10");
  });

  it("starts a backend that echoes the request as JSON, and stops it", async () => {
    const b = await startBackend("b1");
    const r = await request({ port: b.port, path: "/blog/x?a=1", method: "POST", headers: { Host: "example.com", "X-Test": "yes" }, body: { k: 1 } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ backend: "b1", method: "POST", path: "/blog/x", url: "/blog/x?a=1", body: '{"k":1}' });
    expect(r.json.headers.host).toBe("example.com");
    expect(r.json.headers["x-test"]).toBe("yes");
    expect(b.hits()).toBe(1);

    b.set({ status: 503 });
    expect((await request(`${b.url}/`)).status).toBe(503);

    await b.kill();
    await expect(request(`${b.url}/`)).rejects.toThrow(/ECONNREFUSED/);
    await b.restart();
    b.set({ status: 200 });
    expect((await request(`${b.url}/`)).json.backend).toBe("b1");
  });

  it("receives statsd datagrams and waits for lines", async () => {
    const s = await startStatsd();
    const wait = s.waitFor((lines) => lines.find((l) => l.startsWith("ELB.a_com.cost")));
    await sendUdp(s.port, "ELB.a_com.total:3|c\nELB.a_com.status.200:3|c\nELB.a_com.cost:12|ms");
    await sendUdp(s.port, "ELB.a_com.total:2|c|@0.5");
    expect(await wait).toBe("ELB.a_com.cost:12|ms");
    await s.waitFor((lines) => lines.length >= 4);
    expect(s.datagrams.length).toBe(2);
    expect(s.counter("ELB.a_com.total")).toBe(7);
    expect(s.timings("ELB.a_com.cost")).toEqual([12]);
    expect(parseStatsdLine("x.y:1.5|ms")).toEqual({ name: "x.y", value: 1.5, type: "ms", rate: undefined });
    await expect(s.waitFor((lines) => lines.includes("never"), 100)).rejects.toThrow(/timed out/);
  });
});

async function refused(port: number): Promise<boolean> {
  return request({ port, path: "/", timeoutMs: 2000 }).then(
    () => false,
    (e: Error) => /ECONNREFUSED/.test(e.message),
  );
}

describe("nginx/launch.sh through startElb", () => {
  it("runs with an embedded etcd, renders the config, and a graceful stop (TERM) leaves nothing running", async () => {
    const elb = await startElb({ workers: 2 });
    const conf = readFileSync(join(elb.prefix, "nginx.conf"), "utf8");
    expect(conf).not.toMatch(/@@[A-Z_]+@@/);
    expect(conf).toContain("worker_processes 2;");
    expect(conf).toContain(`listen 127.0.0.1:${elb.port} backlog=4096;`);

    const status = await elb.request("/__erulb__/status");
    expect(status.status).toBe(200);
    expect(status.headers["content-type"]).toMatch(/application\/json/);

    // the admin API writes through to the embedded etcd that launch.sh started
    const put = await elb.request({ method: "PUT", path: "/__erulb__/upstream", body: { up1: { "127.0.0.1:9": "" } } });
    expect(put.status).toBe(200);
    const got = await etcdctl(elb.etcd, "get", "/ELB/upstreams/up1/127.0.0.1:9", "--print-value-only");
    expect(got.stdout.trim()).toBe("");
    expect(elb.errorLog()).toContain("start worker process");

    const exit = await elb.stop("SIGTERM");
    expect(exit).toEqual({ code: 0, signal: null });
    expect(elb.output()).toContain("elb: stopped");
    expect(await refused(elb.port)).toBe(true);
    expect(await refused(Number(elb.etcd.split(":")[1]))).toBe(true);
  });

  it("uses an external etcd and statsd, proxies, answers nginx's 502 as JSON, restarts from etcd, stops fast on INT", async () => {
    const etcd = await startEtcd();
    const statsd = await startStatsd();
    const b1 = await startBackend("b1");
    const elb = await startElb({ etcd: etcd.endpoint, statsd: statsd.endpoint, elbName: "H" });
    await elb.waitLoaded();

    const dead = await freePort();
    const up = await elb.request({ method: "PUT", path: "/__erulb__/upstream", body: { live: { [b1.addr]: "" }, dead: { [`127.0.0.1:${dead}`]: "" } } });
    expect(up.status).toBe(200);
    const dom = await elb.request({
      method: "PUT",
      path: "/__erulb__/domain",
      body: {
        "live.test": { init: "r", rules: { r: { type: "backend", args: { servername: "live" } } } },
        "dead.test": { init: "r", rules: { r: { type: "backend", args: { servername: "dead" } } } },
      },
    });
    expect(dom.status).toBe(200);
    expect((await etcdctl(etcd.endpoint, "get", "/H/rules/live.test", "--print-value-only")).stdout).toContain('"init"');

    const ok = await elb.request({ path: "/p?q=1", headers: { Host: "live.test" } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ backend: "b1", path: "/p", url: "/p?q=1" });
    expect(ok.json.headers["x-real-ip"]).toBe("127.0.0.1");
    expect(ok.json.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(ok.json.headers.host).toBe("live.test");

    const bad = await elb.request({ path: "/", headers: { Host: "dead.test" } });
    expect(bad.status).toBe(502);
    expect(bad.headers["content-type"]).toMatch(/application\/json/);
    expect(typeof bad.json?.msg).toBe("string");

    await statsd.waitFor((lines) => lines.some((l) => l.startsWith("H.live_test.")), 5000);
    expect(elb.accessLog()).toMatch(/upstream=127\.0\.0\.1:\d+ upstream_status=200/);

    await elb.restart();
    expect((await elb.waitLoaded()).domains).toBe(2);
    const again = await elb.request({ path: "/", headers: { Host: "live.test" } });
    expect(again.json?.backend).toBe("b1");

    const t0 = Date.now();
    expect(await elb.stop("SIGINT")).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await refused(elb.port)).toBe(true);
  });

  it("under npm, stops everything when its parent dies without passing a signal on", async () => {
    const port = await freePort();
    const etcdPort = await freePortPair();
    const prefix = mkdtempSync(join(tmpdir(), "elb-e2e-orphan-"));
    // like `npm start`: npm -> sh -c -> bash launch.sh; here the sh is killed outright
    const sh = spawn("sh", ["-c", `bash ${LAUNCH_SH}; true`], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, npm_lifecycle_event: "start", ELB_PREFIX: prefix, ELB_LISTEN: `127.0.0.1:${port}`, ELB_ETCD_PORT: String(etcdPort), ELB_WORKERS: "1" },
    });
    try {
      await waitFor(() => request({ port, path: "/__erulb__/status", timeoutMs: 1000 }).then((r) => r.status === 200), 20000, "the ELB");
      process.kill(sh.pid!, "SIGKILL");
      await waitFor(async () => (await refused(port)) && (await refused(etcdPort)), 15000, "nginx and etcd to stop");
    } finally {
      try {
        process.kill(-sh.pid!, "SIGKILL");
      } catch {
        /* the group is gone */
      }
      rmSync(prefix, { recursive: true, force: true });
    }
  });

  it("exits with nginx's status when nginx cannot start", async () => {
    await expect(startElb({ env: { ELB_LISTEN: "no.such.host.invalid:1" }, timeoutMs: 10000 })).rejects.toThrow(/launch.sh exited[\s\S]*host not found/);
  });
});
