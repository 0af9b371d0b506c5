// What the kinds stored as JSON documents share: their text is JSON, decoded by the host.
import { decodeJson, encodeJson } from "../host";
import { Problem } from "../problems";

export function encodeDocument(this: void, value: unknown): string {
  return encodeJson(value);
}

export function decodeDocument(this: void, text: string, at: string, problems: Problem[]): unknown {
  const d = decodeJson(text);
  if (d.error !== undefined) {
    problems.push({ path: at, error: `invalid JSON: ${d.error}` });
    return undefined;
  }
  return d.value;
}

export function noMembers(this: void, _member: string): string | undefined {
  return "this kind has no members";
}
