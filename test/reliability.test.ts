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
