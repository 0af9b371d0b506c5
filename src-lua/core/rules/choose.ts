// A split's choice of branch, the same in both runtimes: by a 32-bit hash of the client's key
// (sticky: the same key stays on its branch while the weights stay), or by a random number.
// Branch i owns the share [cumulative[i-1], cumulative[i]) of [0, total): a hash h stands at
// h / 2^32 of the way, so the choice depends on the shares, not on how the weights are
// written (95/5 and 19/1 agree), and moving weight from one branch to the next moves only
// the clients on the boundary. Plain Lua (per request).

const TWO32 = 4294967296;

/** The branch index (0-based) for hash h (0 .. 2^32-1). h * total stays below 2^53: exact. */
export function branchByHash(cumulative: number[], total: number, h: number): number {
  const x = h * total;
  const n = cumulative.length;
  for (let i = 0; i < n - 1; i++) {
    if (x < cumulative[i] * TWO32) return i;
  }
  return n - 1;
}

/** The branch index for r in [0, 1). */
export function branchByRandom(cumulative: number[], total: number, r: number): number {
  const x = r * total;
  const n = cumulative.length;
  for (let i = 0; i < n - 1; i++) {
    if (x < cumulative[i]) return i;
  }
  return n - 1;
}
