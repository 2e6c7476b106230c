// The figures of one suite run: every figure keeps its value from each run, and is summarised as
// min/median/max. A value cut short by a timeout is kept as a bound ("≥ 90 s"), never dropped.
import { median, sig } from './stats';

export type Row = Record<string, string | number | boolean | null>;

export interface Value {
  v: number;
  /** 'atLeast': a timeout stopped the measurement, the true value is at least v; 'atMost' likewise. */
  bound?: 'atLeast' | 'atMost';
}

export interface Figure {
  bench: string;
  label: string;
  unit: string;
  /** issue 9's target for this figure, when it has one */
  target?: string;
  /** true for the figures issue 9 names as its targets: they lead the report */
  headline?: boolean;
  values: Value[];
}

export interface Summary {
  min: Value;
  median: Value;
  max: Value;
  n: number;
  bounded: number;
}

export class Results {
  readonly figures: Figure[] = [];
  readonly details: Record<string, Row[]> = {};
  readonly notes: Record<string, string[]> = {};
  readonly errors: { bench: string; message: string }[] = [];

  /** Adds one run's value to a figure (created on first use; the label identifies it within a bench). */
  add(bench: string, label: string, unit: string, v: number, opts: { bound?: Value['bound']; target?: string; headline?: boolean } = {}): void {
    let f = this.figures.find((x) => x.bench === bench && x.label === label);
    if (!f) {
      f = { bench, label, unit, values: [], target: opts.target, headline: opts.headline };
      this.figures.push(f);
    }
    if (Number.isFinite(v)) f.values.push(opts.bound ? { v, bound: opts.bound } : { v });
  }

  detail(bench: string, row: Row): void {
    (this.details[bench] ??= []).push(row);
  }

  note(bench: string, text: string): void {
    const list = (this.notes[bench] ??= []);
    if (!list.includes(text)) list.push(text);
  }

  error(bench: string, e: unknown): void {
    this.errors.push({ bench, message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
}

export function summarise(values: Value[]): Summary | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((a, b) => a.v - b.v);
  const m = median(s.map((x) => x.v));
  // the median's bound: that of the middle value(s)
  const mid = s.length % 2 ? [s[(s.length - 1) / 2]] : [s[s.length / 2 - 1], s[s.length / 2]];
  const bound = mid.find((x) => x.bound)?.bound;
  return { min: s[0], median: bound ? { v: m, bound } : { v: m }, max: s[s.length - 1], n: s.length, bounded: s.filter((x) => x.bound).length };
}

export function show(x: Value | undefined): string {
  if (!x) return '–';
  const n = sig(x.v).toLocaleString('en-US').replace(/,/g, ' ');
  return x.bound === 'atLeast' ? `≥ ${n}` : x.bound === 'atMost' ? `≤ ${n}` : n;
}
