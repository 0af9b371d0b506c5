// The descriptions of the kinds of configuration (src-lua/core/kinds) under Node, against the
// shared vectors test/vectors/kinds.json (spec/support/core_vectors.lua runs them as Lua).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import "../admin-cli/src/host";
import { checkStored, KINDS, parseKey } from "../src-lua/core/kinds/index";
import { planDelete, planPut } from "../src-lua/core/kinds/plan";
import { Problem } from "../src-lua/core/problems";

const v = JSON.parse(readFileSync(new URL("./vectors/kinds.json", import.meta.url), "utf8"));
const kind = (id: string) => KINDS.find((k) => k.id === id)!;

describe("etcd keys", () => {
  for (const c of v.keys) {
    it(`parses ${c.key}`, () => {
      const ref = parseKey("ELB", c.key);
      if (c.kind === null) expect(ref).toBeUndefined();
      else expect({ kind: ref?.kind.id, name: ref?.name, member: ref?.member }).toEqual({ kind: c.kind, name: c.name, member: c.member });
    });
  }
});

describe("the check of a stored value", () => {
  for (const c of v.stored) {
    it(`${c.key} = ${c.value}`, () => {
      const problems = checkStored("ELB", c.key, c.value);
      if (typeof c.errors === "string") expect(problems.map((p) => p.error).join()).toContain(c.errors);
      else expect(problems).toEqual(c.errors);
    });
  }
});

for (const [what, planner] of [["put", planPut], ["delete", planDelete]] as const) {
  describe(`API bodies (${what})`, () => {
    for (const c of v[what]) {
      it(`${c.kind} ${JSON.stringify(c.body)}`, () => {
        const problems: Problem[] = [];
        const plan = planner(kind(c.kind), "ELB", c.body, problems);
        expect(problems).toEqual(c.errors);
        if (c.errors.length > 0) return;
        expect(plan.puts.map((p) => p.key)).toEqual(c.puts);
        expect(plan.deletes).toEqual(c.deletes);
        expect(plan.groups.map((g) => g.prefix)).toEqual(c.groups);
        expect(plan.names).toEqual(c.names);
      });
    }
  });
}
