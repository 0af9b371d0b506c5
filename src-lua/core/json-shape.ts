// JSON values look different once decoded: JS has arrays and objects, while Lua (cjson) has
// tables only, where an empty object and an empty array are the same table. Validation asks
// these two questions through the shape in use; the Lua side installs its own (config/json.ts).

export interface JsonShape {
  isArray(this: void, v: unknown): boolean;
  isObject(this: void, v: unknown): boolean;
}

let shape: JsonShape = {
  isArray: (v) => Array.isArray(v),
  isObject: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
};

export function useJsonShape(s: JsonShape): void {
  shape = s;
}

export function isArray(v: unknown): v is unknown[] {
  return shape.isArray(v);
}

export function isObject(v: unknown): v is { [key: string]: unknown } {
  return shape.isObject(v);
}

/** Own keys of a decoded JSON object, sorted so that both runtimes report in the same order. */
export function sortedKeys(o: { [key: string]: unknown }): string[] {
  const keys: string[] = [];
  for (const k in o) keys.push(k);
  keys.sort();
  return keys;
}
