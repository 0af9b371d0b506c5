// What validation needs from the runtime it runs in: decoding and encoding JSON text and
// checking a regex with the engine that will run it. Each runtime installs its own once:
// the engine (config/json.ts: cjson, PCRE), elbctl and the Node tests (admin-cli/src/host.ts:
// JSON, JavaScript's RegExp standing in for PCRE).

/** Checks a regex (caseless: matched ignoring case); returns the engine's error, if any. */
export type RegexCheck = (this: void, pattern: string, caseless: boolean) => string | undefined;

export interface Decoded {
  value: unknown;
  /** set when the text is not JSON */
  error: string | undefined;
}

export interface Host {
  decodeJson(this: void, text: string): Decoded;
  encodeJson(this: void, value: unknown): string;
  checkRegex: RegexCheck;
}

function missing(): never {
  throw "core/host.ts: no host installed (useHost)";
}

let host: Host = { decodeJson: missing, encodeJson: missing, checkRegex: missing };

export function useHost(h: Host): void {
  host = h;
}

export function decodeJson(text: string): Decoded {
  return host.decodeJson(text);
}

export function encodeJson(value: unknown): string {
  return host.encodeJson(value);
}

export function checkRegex(pattern: string, caseless: boolean): string | undefined {
  return host.checkRegex(pattern, caseless);
}
