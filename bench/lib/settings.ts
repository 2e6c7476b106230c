// Every knob of the benchmark suite, read once from the environment. BENCH_QUICK=1 runs each
// benchmark once with short loads, to check the harness; the defaults are the full suite, sized to
// finish `make bench` in under 30 minutes on the 2-core development machine.
export type TransportKind = 'kafka' | 'sqs';

const quick = process.env.BENCH_QUICK === '1';

function num(name: string, full: number, short: number, fallback?: string): number {
  const raw = process.env[name] ?? (fallback ? process.env[fallback] : undefined);
  const v = raw === undefined || raw === '' ? (quick ? short : full) : Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, not ${JSON.stringify(raw)}`);
  return v;
}

function list<T extends string>(name: string, known: readonly T[], dflt: readonly T[]): T[] {
  const raw = process.env[name];
  if (!raw) return [...dflt];
  const out = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = out.filter((x) => !known.includes(x as T));
  if (bad.length) throw new Error(`${name}: unknown ${bad.join(', ')} (known: ${known.join(', ')})`);
  return out as T[];
}

export const BENCHES = ['catch-up', 'steady-state', 'latency', 'capture-cost', 'bootstrap', 'forward', 'e2e'] as const;
export type BenchName = (typeof BENCHES)[number];
const TRANSPORTS = ['kafka', 'sqs'] as const;

export const settings = {
  quick,
  /** Runs of every figure (min/median/max are over these). */
  runs: num('BENCH_RUNS', 3, 1),
  only: list('BENCH_ONLY', BENCHES, BENCHES),
  /** pgbench: scale (1 = 100k accounts) and clients of the TPC-B-like load. */
  scale: num('BENCH_SCALE', 10, 10),
  clients: num('BENCH_CLIENTS', 8, 8),
  /** catch-up: size of the backlog (4 changes per pgbench transaction). */
  catchUpChanges: num('BENCH_CATCHUP_CHANGES', 150_000, 40_000),
  catchUpTransports: list('BENCH_CATCHUP_TRANSPORTS', TRANSPORTS, TRANSPORTS),
  /** A drain that takes longer is stopped and reported as "at least" this long. */
  catchUpTimeoutS: num('BENCH_CATCHUP_TIMEOUT_S', 240, 120),
  steadySeconds: num('BENCH_STEADY_SECONDS', 60, 15),
  steadyTransports: list('BENCH_STEADY_TRANSPORTS', TRANSPORTS, ['kafka']),
  /** steady state: how long after the load to wait for identical DCs before giving up. */
  steadyDrainTimeoutS: num('BENCH_STEADY_DRAIN_TIMEOUT_S', 60, 45),
  /** Lag samples are taken this often during the steady-state load. */
  lagSampleMs: num('BENCH_LAG_SAMPLE_MS', 250, 250),
  /** latency: offered changes/s (pgbench --rate for most, plus the probe rows) and for how long. */
  latencyRate: num('BENCH_LATENCY_RATE', 2000, 2000),
  latencySeconds: num('BENCH_LATENCY_SECONDS', 15, 8),
  /** ...after which the last probes get this long to arrive (those that do not count with their age). */
  latencyDrainS: num('BENCH_LATENCY_DRAIN_S', 10, 10),
  latencyTransports: list('BENCH_LATENCY_TRANSPORTS', TRANSPORTS, TRANSPORTS),
  /** Probe rows per second in the latency benchmark (each is one timed sample). */
  probeRate: num('BENCH_PROBE_RATE', 100, 100),
  /** The watcher polls the destination this often, on one held connection. */
  watchEveryMs: num('BENCH_WATCH_MS', 2, 2),
  /** capture cost: seconds of each pgbench run in the paired runs. */
  captureSeconds: num('BENCH_CAPTURE_SECONDS', 10, 5, 'BENCH_SECONDS'),
  /** bootstrap: rows of the simple table and the pgbench scale (100k accounts each) in dc-a, copied to an empty DC. */
  bootstrapRows: num('BENCH_BOOTSTRAP_ROWS', 1_000_000, 100_000),
  bootstrapScale: num('BENCH_BOOTSTRAP_SCALE', 10, 1),
  /** The secondary figures (bench/forward.ts, bench/e2e.ts): rows inserted 500 (or 100) per transaction. */
  insertChanges: num('BENCH_CHANGES', 50_000, 10_000),
};

export type Settings = typeof settings;

export function wants(name: BenchName): boolean {
  return settings.only.includes(name);
}
