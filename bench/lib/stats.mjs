// Small statistics for interleaved runs: medians, and ratios paired by round.

export function median(xs) {
  const v = xs.filter((x) => x !== undefined && x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function min(xs) {
  return Math.min(...xs);
}

export function max(xs) {
  return Math.max(...xs);
}

/** Relative spread of xs: (max - min) / median. */
export function spread(xs) {
  const m = median(xs);
  return m ? (max(xs) - min(xs)) / m : undefined;
}

/**
 * The median over rounds of a[i] / b[i]: runs of the same round ran back to back, so
 * pairing them cancels the drift of the machine between rounds.
 */
export function pairedRatio(a, b) {
  const r = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (b[i]) r.push(a[i] / b[i]);
  return median(r);
}

export function pct(x, digits = 1) {
  return x === undefined ? "n/a" : `${(x * 100).toFixed(digits)}%`;
}

export function fmt(x, digits = 1) {
  if (x === undefined || x === null || !Number.isFinite(x)) return "n/a";
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function int(x) {
  if (x === undefined || x === null || !Number.isFinite(x)) return "n/a";
  return Math.round(x).toLocaleString("en-US");
}

export function ratio(x, digits = 2) {
  return x === undefined || !Number.isFinite(x) ? "n/a" : `${x.toFixed(digits)}×`;
}

/** A difference with its sign: +1.25, -0.40, 0.00. */
export function signed(x, digits = 2) {
  if (x === undefined || x === null || !Number.isFinite(x)) return "n/a";
  const r = Number(x.toFixed(digits));
  if (r === 0) return (0).toFixed(digits);
  return (r > 0 ? "+" : "") + r.toFixed(digits);
}
