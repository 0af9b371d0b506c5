// Checks of JSON values that the kinds' validations share: each adds a problem (what is wrong,
// at JSON pointer `at`) and says nothing when the value is fine. Pure: Node and Lua alike.
import { isArray, sortedKeys } from "./json-shape";
import { describe, pointer, Problem } from "./problems";

export function contains(list: string[], s: string): boolean {
  for (const x of list) if (x === s) return true;
  return false;
}

export function isWhole(v: unknown): boolean {
  return typeof v === "number" && Math.floor(v) === v;
}

export function checkWhole(v: unknown, at: string, min: number, max: number, problems: Problem[]): void {
  if (!isWhole(v) || (v as number) < min || (v as number) > max) {
    problems.push({ path: at, error: `must be a whole number from ${min} to ${max}, got ${typeof v === "number" ? `${v}` : describe(v)}` });
  }
}

export function checkSeconds(v: unknown, at: string, min: number, max: number, problems: Problem[]): void {
  // v !== v: NaN (a YAML .nan read by elbctl) fails every comparison
  if (typeof v !== "number" || v !== v || v < min || v > max) {
    problems.push({ path: at, error: `must be a number of seconds from ${min} to ${max}, got ${typeof v === "number" ? `${v}` : describe(v)}` });
  }
}

export function checkStatusList(v: unknown, at: string, min: number, problems: Problem[]): void {
  if (!isArray(v) || (v as unknown[]).length === 0) {
    // an empty array: JS and Lua (where {} and [] are one) describe it differently
    const got = isArray(v) ? "" : `, got ${describe(v)}`;
    problems.push({ path: at, error: `must be a non-empty array of HTTP statuses${got}` });
    return;
  }
  const list = v as unknown[];
  for (let i = 0; i < list.length; i++) checkWhole(list[i], pointer(at, i), min, 599, problems);
}

export function checkUnknown(o: { [k: string]: unknown }, known: string[], at: string, what: string, problems: Problem[]): void {
  for (const k of sortedKeys(o)) {
    if (!contains(known, k)) problems.push({ path: pointer(at, k), error: `unknown ${what} field "${k}" (known: ${known.join(", ")})` });
  }
}

/** A list of whole numbers (already validated), copied; `fallback` when absent. */
export function numbers(v: unknown, fallback: number[]): number[] {
  if (v === undefined) return fallback;
  const out: number[] = [];
  for (const n of v as number[]) out.push(n);
  return out;
}
