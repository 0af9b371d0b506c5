// Deep equality of decoded JSON, numbers compared as the engine stores them (cjson writes 14
// significant digits: 0.30000000000000004 comes back as 0.3).
export function same(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return a === b || Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b;
  // cjson cannot tell an empty object from an empty array
  const emptyA = Object.keys(a).length === 0;
  const emptyB = Object.keys(b).length === 0;
  if (emptyA && emptyB) return true;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
