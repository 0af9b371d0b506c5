// elbctl's argv rules on top of util.parseArgs: values, flags, negation, aliases, `--`, and
// the usage errors (exit 2) elbctl prints.
import { describe, expect, it } from "vitest";
import { parseArgs, UsageError } from "./args";

const valued = ["file", "output", "etcd", "params"];
const aliases = { f: "file", o: "output", h: "help", j: "json" };
const parse = (...argv: string[]) => parseArgs(argv, valued, aliases);

describe("parseArgs", () => {
  it("takes a value from the next argument or after =, also through a one-letter alias", () => {
    expect(parse("apply", "-f", "-", "--etcd=h:1,h:2", "--params", "weight=2 max_fails=3", "-o", "x.yaml").options).toEqual({ file: "-", etcd: "h:1,h:2", params: "weight=2 max_fails=3", output: "x.yaml" });
    expect(parse("--params=").options).toEqual({ params: "" });
    expect(parse("--params", "--json").options).toEqual({ params: "--json" });
  });
  it("sets flags to true, --no-x to false (the last one wins), aliases included", () => {
    expect(parse("upstream", "ls", "--no-health", "-j", "--color", "--no-color", "-h").options).toEqual({ health: false, json: true, color: false, help: true });
  });
  it("keeps positionals in order, a lone - among them, and everything after --", () => {
    expect(parse("domain", "set", "-", "x", "--", "--json", "-f")).toEqual({ positionals: ["domain", "set", "-", "x", "--json", "-f"], options: {} });
  });
  it("passes unknown options on for the command to reject", () => {
    expect(parse("--bogus", "-x").options).toEqual({ bogus: true, x: true });
  });
  it("says which option lacks a value or has one it cannot take", () => {
    const msg = (...argv: string[]) => {
      try {
        parse(...argv);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return "no error";
    };
    expect(msg("apply", "--file")).toBe("--file needs a value");
    expect(msg("apply", "-f")).toBe("--file needs a value");
    expect(msg("--json=1")).toBe("--json takes no value");
    expect(msg("--no-health=yes")).toBe("--no-health takes no value");
  });
});
