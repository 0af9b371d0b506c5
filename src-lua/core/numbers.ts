// Whole numbers written in decimal digits only (no sign, no spaces, no exponent), checked by
// hand so that JS and Lua agree on what is a number.

/** The value of `s`, or undefined when it is not all digits, longer than 6, or over `max`. */
export function parseWhole(s: string, max: number): number | undefined {
  if (s.length === 0 || s.length > 6) return undefined;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    n = n * 10 + (c - 48);
  }
  return n <= max ? n : undefined;
}
