// Regressions found by the chaos suite (chaos/, docs/RELIABILITY.md): JSON that is not JSON,
// values written by hand that hold it, a change too large for one etcd transaction, an
// acknowledged change and a stop or crash right after, and the admin API's edges (its own
// paths only, the token, the limit of writes at once).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, etcdctl, freePort, killNginx, request, startBackend, startElb, startEtcd, stopAll, waitFor } from "./harness";
import { configRevisions as revisionsIn } from "./etcd-keys";

let etcd: Etcd;
let elb: Elb;
let a: Backend;

const rules = (up: string, version = "1") => ({ init: "b", rules: { b: { type: "backend", args: { servername: up, "X-Version": version } } } });


beforeAll(async () => {
  etcd = await startEtcd();
  a = await startBackend("A");
  elb = await startElb({ etcd: etcd.endpoint, workers: 2 });
  expect((await elb.api("PUT", "upstream", { up1: { [a.addr]: "" } })).status).toBe(200);
  expect((await elb.api("PUT", "policy", { up1: { timeouts: { connect: 0.5, send: 1, read: 1 } } })).status).toBe(200);
});

afterAll(stopAll);

describe("only JSON is JSON", () => {
  const bodies: [string, string | Buffer][] = [
    ["NaN", '{"up1": {"timeouts": {"connect": 0.5, "send": NaN, "read": 1}}}'],
    ["Infinity", '{"up1": {"timeouts": {"connect": 0.5, "send": Infinity, "read": 1}}}'],
    ["-Infinity", '{"up1": {"timeouts": {"connect": -Infinity}}}'],
    ["a hex number", '{"up1": {"retries": 0x1}}'],
    ["1e400 (infinite once read)", '{"up1": {"timeouts": {"send": 1e400}}}'],
    ["invalid UTF-8", Buffer.concat([Buffer.from('{"up1": {"hash_on": "header:'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')])],
    ["a raw control character in a string", '{"up1": {"sticky": {"cookie": "a\u0001b"}}}'],
    ["a raw newline in a string", '{"up1": {"sticky": {"cookie": "a\nb"}}}'],
    ["a number ending with a dot", '{"up1": {"timeouts": {"send": 1.}}}'],
    ["a number with a leading zero", '{"up1": {"retries": 01}}'],
    ["a number with a plus", '{"up1": {"retries": +1}}'],
    ["a number starting with a dot", '{"up1": {"timeouts": {"send": .5}}}'],
    ["an empty array for a policy", '{"up1": []}'],
    ["an empty array for the whole body", "[]"],
  ];
  it("a DELETE of {} (an object, not a list) is a 400", async () => {
    const r = await request({ port: elb.port, method: "DELETE", path: "/__erulb__/domain", body: "{}", headers: { "Content-Type": "application/json" } });
    expect(r.status, r.body).toBe(400);
    expect(r.json.errors[0].error).toMatch(/expected an array/);
  });
  for (const [what, body] of bodies) {
    it(`${what}: 400, nothing changed`, async () => {
      const before = await revisionsIn(etcd.endpoint);
      const r = await request({ port: elb.port, method: "PUT", path: "/__erulb__/policy", body, headers: { "Content-Type": "application/json" } });
      expect(r.status, r.body).toBe(400);
      expect(r.json.msg).toMatch(/^invalid request body/);
      expect(await revisionsIn(etcd.endpoint)).toEqual(before);
      expect(elb.errorLog()).not.toMatch(/internal error|runtime error|stack traceback/);
    });
  }

  it("an empty array inside a string is left alone", async () => {
    const body = { "arr.test": { init: "b", rules: { b: { type: "backend", args: { servername: "up1", "X-Arr": "[ ]", "X-Arr2": "[]" } } } } };
    expect((await elb.api("PUT", "domain", body)).status).toBe(200);
    expect((await elb.api("GET", "domain")).json["arr.test"]).toEqual(body["arr.test"]);
  });

  it("a value written by hand with NaN is skipped and listed; the old one keeps serving", async () => {
    expect((await elb.api("PUT", "domain", { "nan.test": rules("up1", "good") })).status).toBe(200);
    await etcdctl(etcd.endpoint, "put", "/ELB/policies/up1", '{"timeouts": {"send": NaN}}');
    await etcdctl(etcd.endpoint, "put", "/ELB/rules/nan.test", '{"init": "b", "rules": {"b": {"type": "backend", "args": {"servername": "up1", "X-Weight": NaN}}}}');
    await waitFor(async () => Object.keys((await elb.api("GET", "status")).json.invalid_keys).length === 2, 5000, "both keys to be listed as invalid");
    const s = (await elb.api("GET", "status")).json;
    expect(s.invalid_keys["/ELB/policies/up1"].error).toMatch(/invalid JSON/);
    expect((await elb.request({ path: "/", headers: { Host: "nan.test" } })).json.headers["x-version"]).toBe("good");
    expect((await elb.api("GET", "policy")).json.up1).toEqual({ timeouts: { connect: 0.5, send: 1, read: 1 } });
  });
});

describe("odd keys written by hand", () => {
  it("a key with a newline is listed as invalid, and no longer once deleted; a whole document [] is no policy", async () => {
    await etcdctl(etcd.endpoint, "put", "/ELB/rules/x\ny", JSON.stringify(rules("up1")));
    await etcdctl(etcd.endpoint, "put", "/ELB/policies/arr", "[]");
    await waitFor(async () => {
      const keys = Object.keys((await elb.api("GET", "status")).json.invalid_keys);
      return keys.includes("/ELB/rules/x\ny") && keys.includes("/ELB/policies/arr");
    }, 5000, "both keys to be listed");
    expect((await elb.api("GET", "status")).json.invalid_keys["/ELB/policies/arr"].error).toMatch(/must be an object/);
    await etcdctl(etcd.endpoint, "del", "/ELB/rules/x\ny");
    await waitFor(async () => !Object.keys((await elb.api("GET", "status")).json.invalid_keys).includes("/ELB/rules/x\ny"), 5000, "the deleted key to leave the list");
    await etcdctl(etcd.endpoint, "del", "/ELB/policies/arr");
  });
});

describe("a change too large for one etcd transaction", () => {
  it("is refused with 413 before it is sent, saying what to do; one that fits is written", async () => {
    const before = await revisionsIn(etcd.endpoint);
    const big = { "big.test": rules("up1", "x".repeat(2 * 1024 * 1024)) };
    const r = await elb.api("PUT", "domain", big);
    expect(r.status, r.body).toBe(413);
    expect(r.json.msg).toMatch(/one etcd transaction holds at most 1572864 .*--max-request-bytes.*split it/);
    expect(await revisionsIn(etcd.endpoint)).toEqual(before);
    // many domains that together pass the limit
    const many: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) many[`m${i}.test`] = rules("up1", "y".repeat(20000));
    expect((await elb.api("PUT", "domain", many)).status).toBe(413);
    const fits = await elb.api("PUT", "domain", { "fits.test": rules("up1", "z".repeat(1024 * 1024)) });
    expect(fits.status, fits.body).toBe(200);
    expect(Object.keys(await revisionsIn(etcd.endpoint))).toContain("/ELB/rules/fits.test");
    expect(Object.keys((await elb.api("GET", "domain")).json)).toContain("fits.test");
  });
});

describe("a change with more operations than one transaction holds", () => {
  // the fuzzer's 10,000 certificates kept a worker reading them for 10 s before this 400
  it("is refused by its count before any value is read", async () => {
    const before = await revisionsIn(etcd.endpoint);
    const certs: Record<string, unknown> = {};
    for (let i = 0; i < 129; i++) certs[`c${i}.test`] = { cert: "not a certificate", key: "nor a key" };
    const r = await elb.api("PUT", "cert", certs);
    expect(r.status, r.body).toBe(400);
    expect(r.json.msg).toBe("this change needs 129 etcd operations; one transaction holds at most 128: split it");
    const members: Record<string, string> = {};
    for (let i = 0; i < 129; i++) members[`127.0.0.1:${1000 + i}`] = "bad params";
    expect((await elb.api("PUT", "upstream", { up2: members })).json.msg).toMatch(/needs 129 etcd operations/);
    expect(await revisionsIn(etcd.endpoint)).toEqual(before);
  });
});

describe("dump", () => {
  it("writes a configuration larger than one transaction in several", async () => {
    for (let i = 0; i < 3; i++) expect((await elb.api("PUT", "domain", { [`dump${i}.test`]: rules("up1", "d".repeat(700 * 1024)) })).status).toBe(200);
    const r = await elb.api("PUT", "dump");
    expect(r.status, r.body).toBe(200);
    await elb.api("DELETE", "domain", ["dump0.test", "dump1.test", "dump2.test"]);
  });
});

describe("an acknowledged change survives", () => {
  for (const how of ["a graceful stop", "a crash (SIGKILL of every nginx process)"]) {
    it(`${how} right after the answer, and a start without etcd`, async () => {
      const node = await startElb({ etcd: etcd.endpoint, elbName: "DUR", workers: 2 });
      await node.waitLoaded();
      for (let v = 1; v <= 3; v++) expect((await node.api("PUT", "domain", { "d.test": rules(a.addr, `v${v}`) })).status).toBe(200);
      if (how.startsWith("a graceful")) {
        await node.stop("SIGTERM");
      } else {
        killNginx(node.prefix);
        node.kill("SIGKILL");
        await node.stop();
      }
      const again = await startElb({ etcd: `127.0.0.1:${await freePort()}`, elbName: "DUR", workers: 2, prefix: node.prefix });
      expect((await again.request({ path: "/", headers: { Host: "d.test" } })).json.headers["x-version"]).toBe("v3");
      expect((await again.api("GET", "status")).json.loaded).toBe(false);
      await again.stop();
    });
  }
});

describe("the admin API", () => {
  it("answers only on its own paths: encoded or dotted ones are not it", async () => {
    for (const path of ["/%5F_erulb__/status", "/__erulb%5F_/status", "//__erulb__/status", "/x/../__erulb__/status", "/./__erulb__/status"]) {
      const r = await request({ port: elb.port, path });
      expect(r.status, path).toBe(404);
      expect(r.json?.node, path).toBeUndefined();
    }
    expect((await request({ port: elb.port, path: "/__erulb__/status?x=1" })).json.node).toBeDefined();
  });

  it("takes the token only exactly, the scheme in any case", async () => {
    const node = await startElb({ etcd: etcd.endpoint, elbName: "TOK", env: { ELB_ADMIN_TOKEN: "s3cret-token" } });
    const status = (auth?: string) => request({ port: node.port, path: "/__erulb__/status", headers: auth === undefined ? {} : { Authorization: auth } });
    for (const good of ["Bearer s3cret-token", "bearer s3cret-token", "BEARER  s3cret-token"]) expect((await status(good)).status, good).toBe(200);
    for (const bad of [undefined, "", "Bearer", "Bearer ", "Bearer s3cret-toke", "Bearer s3cret-token2", "Bearer S3CRET-TOKEN", "Basic s3cret-token", "s3cret-token", "Bearer s3cret-token x"]) {
      expect((await status(bad)).status, String(bad)).toBe(403);
    }
    await node.stop();
  });

  it("limits the writes it handles at once: beyond ELB_ADMIN_MAX_WRITES, 429 with Retry-After", async () => {
    const node = await startElb({ etcd: etcd.endpoint, elbName: "LIM", env: { ELB_ADMIN_MAX_WRITES: "1" } });
    await node.waitLoaded();
    etcd.kill("SIGSTOP"); // the first write waits for etcd
    try {
      const first = node.api("PUT", "domain", { "one.test": rules("up1") });
      await new Promise((r) => setTimeout(r, 300));
      const second = await node.api("PUT", "domain", { "two.test": rules("up1") });
      expect(second.status).toBe(429);
      expect(second.headers["retry-after"]).toBe("1");
      expect((await node.api("GET", "status")).status).toBe(200);
      etcd.kill("SIGCONT");
      expect([200, 504]).toContain((await first).status);
    } finally {
      etcd.kill("SIGCONT");
    }
    expect((await node.api("PUT", "domain", { "three.test": rules("up1") })).status).toBe(200);
    await node.stop();
  });
});
