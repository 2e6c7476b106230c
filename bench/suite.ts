// The benchmark suite of issue 9: `make bench` runs this (compiled to .ferry/build/bench/suite.js)
// with .ferry/services.env sourced. It writes bench/results.json and bench/RESULTS.md and prints
// both. BENCH_QUICK=1 checks the harness (one short run of each); BENCH_ONLY=catch-up,latency
// runs a subset; see bench/lib/settings.ts for every knob.
import { bootstrapBench } from './bootstrap';
import { catchUp } from './catch-up';
import { captureCost } from './trigger-overhead';
import { e2e } from './e2e';
import { forward } from './forward';
import { latency } from './latency';
import { deadServices } from './lib/health';
import { ferryOverrides, machine, versions } from './lib/machine';
import { Results } from './lib/results';
import { BenchName, settings, wants } from './lib/settings';
import { log } from './lib/setup';
import { steadyState } from './steady-state';
import { writeReport } from './report';

const BENCHES: [BenchName, (r: Results) => Promise<void>][] = [
  ['catch-up', catchUp],
  ['steady-state', steadyState],
  ['latency', latency],
  ['capture-cost', captureCost],
  ['bootstrap', bootstrapBench],
  ['forward', forward],
  ['e2e', e2e],
];

async function main() {
  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  const res = new Results();
  const atStart = machine();
  const ver = await versions();
  const meta = () => ({ startedAt, seconds: (Date.now() - t0) / 1000, machine: atStart, machineAtEnd: machine(), versions: ver, settings: { ...settings }, ferryOverrides: ferryOverrides() });
  log('suite', `${settings.quick ? 'QUICK mode, ' : ''}${settings.runs} run(s) per figure: ${settings.only.join(', ')}`);
  for (const [name, bench] of BENCHES) {
    if (!wants(name)) continue;
    const dead = await deadServices();
    if (dead.length) {
      res.error('suite', new Error(`stopped before ${name}: ${dead.join('; ')} (see .ferry/logs/)`));
      log('suite', `a service is down, stopping: ${dead.join('; ')}`);
      break;
    }
    const b0 = Date.now();
    log(name, 'start');
    try {
      await bench(res);
    } catch (e) {
      res.error(name, e);
      log(name, `FAILED: ${(e as Error).message}`);
    }
    log(name, `done in ${Math.round((Date.now() - b0) / 1000)} s`);
    // what is measured so far survives a later failure or an interrupted run
    writeReport(res, meta(), true);
  }
  writeReport(res, meta());
  if (res.errors.length) {
    log('suite', `${res.errors.length} error(s): see the Errors section of bench/RESULTS.md`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
