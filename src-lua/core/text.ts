// Reading strings byte by byte the same way in both runtimes. Plain-Lua modules (the hot path)
// take these functions as arguments (string.byte and string.sub in the engine); code off the
// hot path can use `portableText`, which compiles to TypeScript-to-Lua's helpers in Lua.
import { ByteAt } from "./balancer/algorithm";

export type { ByteAt };

/** Bytes i..j of s (1-based, inclusive), as Lua's string.sub. */
export type Sub = (this: void, s: string, i: number, j: number) => string;

export interface Text {
  byteAt: ByteAt;
  sub: Sub;
}

/** ASCII text read in JS or in Lua (not for the hot path: it needs lualib in Lua). */
export const portableText: Text = {
  byteAt: (s, i) => (i >= 1 && i <= s.length ? s.charCodeAt(i - 1) : -1),
  sub: (s, i, j) => s.slice(i - 1, j),
};
