// Small statistics for benchmark figures: nearest-rank percentiles and min/median/max.

/** Nearest-rank percentile (q in 0..1) of the values; NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil(q * s.length)));
  return s[rank - 1];
}

/** The median of an odd count is the middle value; of an even count, the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function round(v: number, digits = 0): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Rounds to about three significant digits, so tables stay readable across magnitudes. */
export function sig(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(v))));
  return round(v, digits);
}

export const perSecond = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : NaN);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
