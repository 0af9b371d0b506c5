// Policies (core/policy.ts) and their etcd keys under Node, against test/vectors/policy.json
// (spec/unit/policy_spec.lua runs the same vectors against the compiled Lua).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { normalizePolicy, validatePolicy } from "../src-lua/core/policy";
import { Problem } from "../src-lua/core/problems";

const v = JSON.parse(readFileSync(new URL("./vectors/policy.json", import.meta.url), "utf8"));

describe("policies", () => {
  for (const c of v.valid) {
    it(`accepts and normalizes: ${c.name}`, () => {
      const problems: Problem[] = [];
      validatePolicy(c.policy, "", problems);
      expect(problems).toEqual([]);
      expect(normalizePolicy(c.policy)).toEqual(c.normalized);
    });
  }
  for (const c of v.invalid) {
    it(`rejects: ${c.name}`, () => {
      const problems: Problem[] = [];
      validatePolicy(c.policy, "", problems);
      expect(problems).toEqual(c.errors);
    });
  }
  it("reports under the caller's pointer", () => {
    const problems: Problem[] = [];
    validatePolicy({ retries: -1 }, "/up1", problems);
    expect(problems).toEqual([{ path: "/up1/retries", error: "must be a whole number from 0 to 100, got -1" }]);
  });
});
