// Regressions found by the chaos suite (chaos/, docs/RELIABILITY.md), on the Node side.
import { describe, expect, it } from "vitest";
import "../admin-cli/src/host";
import { policies } from "../src-lua/core/kinds/index";
import { parseEndpoints, endpointUrl } from "../src-lua/core/endpoints";
import { Problem } from "../src-lua/core/problems";

describe("numbers that are not numbers", () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    it(`a policy with ${bad} seconds is refused (YAML reads .nan and .inf)`, () => {
      const problems: Problem[] = [];
      policies.validate({ timeouts: { connect: 0.5, send: bad, read: 1 } }, "/up", problems);
      expect(problems.map((p) => p.path)).toEqual(["/up/timeouts/send"]);
    });
  }
});

describe("etcd endpoints for elbctl", () => {
  it("keeps the scheme and the host name as written, for TLS", () => {
    const eps = parseEndpoints("https://localhost:2379,https://etcd-2.internal:2379,https://10.0.0.3:2379");
    expect(typeof eps).not.toBe("string");
    expect((eps as Exclude<typeof eps, string>).map(endpointUrl)).toEqual(["https://localhost:2379", "https://etcd-2.internal:2379", "https://10.0.0.3:2379"]);
  });

  it("refuses mixed schemes and unknown ones", () => {
    expect(parseEndpoints("http://a:1,https://b:2")).toMatch(/one scheme/);
    expect(parseEndpoints("ftp://a:1")).toMatch(/only http:\/\/ and https:\/\//);
  });
});

describe("elbctl's etcd side", () => {
  it("refuses a transaction larger than etcd takes, before sending it", async () => {
    const { loadEtcd3, Store } = await import("../admin-cli/src/etcd");
    await loadEtcd3();
    const store = new Store(["http://127.0.0.1:1"], "ELB", 1000);
    try {
      await expect(store.txn([], [{ put: "/ELB/rules/big.test", value: "x".repeat(2 * 1024 * 1024) }])).rejects.toThrow(/about \d+ bytes; one etcd transaction holds at most 1572864/);
    } finally {
      store.close();
    }
  });

  it("wants a client certificate with its key, and TLS options with https:// only", async () => {
    const { securityOptions } = await import("../admin-cli/src/etcd");
    expect(() => securityOptions(["https://a:1"], { cert: "/x.crt" })).toThrow(/--etcd-cert and --etcd-key/);
    expect(() => securityOptions(["http://a:1"], { cacert: "/ca.crt" })).toThrow(/need https:\/\//);
    expect(() => securityOptions(["http://a:1"], { user: "u" })).toThrow(/--user and --password/);
    expect(securityOptions(["http://a:1"], { user: "u", password: "p" }).auth).toEqual({ username: "u", password: "p" });
  });
});
