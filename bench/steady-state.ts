// Steady state: pgbench -c 8 on dc-a for BENCH_STEADY_SECONDS with `ferry run` as its own process
// in all three DCs. Every BENCH_LAG_SAMPLE_MS, each destination's lag: the age of the oldest
// change of dc-a it has not applied (from dc-a's ticks and the destination's applied position).
// Probe rows written 4 times a second give a second view: commit → visible per destination.
// After the load, an end-of-load marker times how long until every DC has all of it, and an md5
// comparison of the four pgbench tables says whether they are identical.
import { performance } from 'node:perf_hooks';
import type { Client } from 'pg';
import { heldClient } from './lib/db';
import { FerryProcess, startFerry, stopAll } from './lib/ferry';
import { compareAll } from './lib/fingerprint';
import { runPgbench, TABLE_KEYS } from './lib/pgbench';
import { appliedPos, lagSeconds } from './lib/positions';
import { ProbeWatcher, ProbeWriter } from './lib/probe';
import { Results } from './lib/results';
import { settings, TransportKind } from './lib/settings';
import { log, pgbenchDcs } from './lib/setup';
import { percentile, sleep } from './lib/stats';

const BENCH = 'steady-state';
const DESTS = ['dc-b', 'dc-c'];
const PROBES_PER_S = 4;

/** Samples every destination's lag on a fixed schedule until stop(); one connection per DC. */
class LagSampler {
  readonly samples: Record<string, { t: number; lag: number }[]> = Object.fromEntries(DESTS.map((d) => [d, []]));
  private running = true;
  private readonly loop: Promise<void>;

  constructor(origin: Client, dests: Record<string, Client>, everyMs: number) {
    this.loop = (async () => {
      const t0 = performance.now();
      for (let k = 1; this.running; k++) {
        for (const d of DESTS) {
          const lag = await lagSeconds(origin, await appliedPos(dests[d], 'dc-a'));
          this.samples[d].push({ t: performance.now(), lag });
        }
        const wait = t0 + k * everyMs - performance.now();
        if (wait > 0) await sleep(wait);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  between(d: string, from: number, to: number): number[] {
    return this.samples[d].filter((s) => s.t >= from && s.t <= to).map((s) => s.lag);
  }
}

async function one(res: Results, run: number, kind: TransportKind): Promise<void> {
  const dcs = await pgbenchDcs(kind, ['dc-a', 'dc-b', 'dc-c'], settings.scale);
  const id = `steady-${kind}-${run}`;
  const procs: FerryProcess[] = [];
  const clients: Client[] = [];
  const held = async (dc: string) => {
    const c = await heldClient(dcs.url[dc]);
    clients.push(c);
    return c;
  };
  try {
    for (const dc of dcs.names) procs.push(startFerry(id, `${dc}-run`, 'run', dcs.cfgFile[dc]));
    const alive = () => procs.forEach((p) => p.check());
    const writer = new ProbeWriter(await held('dc-a'));
    const watch: Record<string, ProbeWatcher> = {};
    for (const d of DESTS) watch[d] = new ProbeWatcher(await held(d), writer);
    // warm-up: the pipeline carries a row to both destinations before the load starts
    const warm = await writer.write();
    for (const d of DESTS) if (!(await watch[d].waitFor(warm.id, 120_000, alive))) throw new Error(`the warm-up row did not reach ${d} within 120 s`);
    writer.committed.clear();

    const sampler = new LagSampler(await held('dc-a'), { 'dc-b': await held('dc-b'), 'dc-c': await held('dc-c') }, settings.lagSampleMs);
    for (const d of DESTS) watch[d].start(20);
    writer.start(PROBES_PER_S);
    const tLoad = performance.now();
    const load = await runPgbench(dcs.url['dc-a'], settings.clients, { seconds: settings.steadySeconds });
    const tEnd = performance.now();
    await writer.stop();
    const marker = await writer.write();
    const ident: Record<string, { ms: number; done: boolean }> = {};
    await Promise.all(
      DESTS.map(async (d) => {
        const done = await watch[d].waitFor(marker.id, settings.steadyDrainTimeoutS * 1000, alive);
        ident[d] = { ms: performance.now() - tEnd, done };
      }),
    );
    await sampler.stop();
    for (const d of DESTS) await watch[d].stop();
    const probe = Object.fromEntries(DESTS.map((d) => [d, watch[d].latencies((x) => x !== marker.id)]));
    await stopAll(procs);
    const allDone = DESTS.every((d) => ident[d].done);
    const identMs = Math.max(...DESTS.map((d) => ident[d].ms));
    const check = allDone ? await compareAll([dcs.url['dc-a'], dcs.url['dc-b'], dcs.url['dc-c']], TABLE_KEYS) : undefined;

    const row: Record<string, string | number | boolean | null> = { run, transport: kind, 'source tps': Math.round(load.tps), 'source changes/s': Math.round(load.changes / settings.steadySeconds) };
    res.add(BENCH, `${kind}: source changes/s (pgbench, 4 per transaction)`, 'changes/s', load.changes / settings.steadySeconds);
    for (const d of DESTS) {
      const lags = sampler.between(d, tLoad, tEnd);
      const p50 = percentile(lags, 0.5);
      const p99 = percentile(lags, 0.99);
      const max = Math.max(...lags);
      res.add(BENCH, `${kind}: ${d} lag p50 during the load`, 's', p50, { headline: d === 'dc-b', target: '≤ 2 (whole run)' });
      res.add(BENCH, `${kind}: ${d} lag p99 during the load`, 's', p99, { headline: true, target: '≤ 2' });
      res.add(BENCH, `${kind}: ${d} lag max during the load`, 's', max, { target: '≤ 2' });
      // a probe never seen counts with its age when the run ended: a lower bound, never left out
      const probes = [...probe[d].seen, ...probe[d].unseen];
      const partly = probe[d].unseen.length > 0.01 * probes.length ? ({ bound: 'atLeast' } as const) : {};
      res.add(BENCH, `${kind}: ${d} commit → visible p99, probes written during the load`, 's', percentile(probes, 0.99) / 1000, partly);
      Object.assign(row, { [`${d} lag p50 s`]: +p50.toFixed(2), [`${d} lag p99 s`]: +p99.toFixed(2), [`${d} lag max s`]: +max.toFixed(2), [`${d} samples`]: lags.length });
    }
    res.add(BENCH, `${kind}: end of load → every DC has it all`, 's', identMs / 1000, { bound: allDone ? undefined : 'atLeast', headline: true, target: '≤ 5' });
    procs.forEach((p) => res.add(BENCH, `${kind}: peak RSS of \`ferry run\` in ${p.role.replace('-run', '')}`, 'MB', p.rss.peakMb(), { target: '≤ 256' }));
    res.add(BENCH, `${kind}: peak RSS of the largest \`ferry run\``, 'MB', Math.max(...procs.map((p) => p.rss.peakMb())), { target: '≤ 256', headline: true });
    Object.assign(row, { 'until identical s': +(identMs / 1000).toFixed(2) + (allDone ? '' : ' (timeout)'), identical: check ? check.identical : null, 'RSS MB a/b/c': procs.map((p) => Math.round(p.rss.peakMb())).join('/') });
    res.detail(BENCH, row);
    if (!allDone) res.note(BENCH, `run ${run} ${kind}: not every DC had the end-of-load marker ${settings.steadyDrainTimeoutS} s after the load (BENCH_STEADY_DRAIN_TIMEOUT_S): reported as "≥"`);
    if (check && !check.identical) res.note(BENCH, `run ${run} ${kind}: DCs differ after the marker arrived: ${JSON.stringify(check.differ)}`);
    log(BENCH, `run ${run} ${kind}: ${Math.round(load.tps)} tps; until identical ${(identMs / 1000).toFixed(1)} s${allDone ? '' : ' (timeout)'}; ${check ? `identical=${check.identical}` : 'not compared'}`);
  } finally {
    await stopAll(procs);
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await dcs.drop();
  }
}

export async function steadyState(res: Results): Promise<void> {
  res.note(BENCH, `pgbench TPC-B-like, scale ${settings.scale}, -c ${settings.clients}, ${settings.steadySeconds} s on dc-a; \`ferry run\` (Ferry's defaults) in dc-a, dc-b and dc-c, each its own process; every DC tracks the tables.`);
  res.note(BENCH, `Lag: every ${settings.lagSampleMs} ms per destination, the age (dc-a's clock) of the first dc-a tick that is unpublished or holds a position beyond the destination's applied one; 0 when it has everything ticked. p50/p99/max over the samples taken during the load.`);
  res.note(BENCH, `Probe: a row committed in dc-a ${PROBES_PER_S} times a second, watched for in each destination every 20 ms: commit → visible, another view of the same lag.`);
  res.note(BENCH, '"every DC has it all": from the end of the load until a marker row committed right after it is visible in both destinations (commit order: everything before it is there), then the four tables are compared by row count and md5 in key order ("identical").');
  for (let run = 1; run <= settings.runs; run++) {
    for (const kind of settings.steadyTransports) {
      await one(res, run, kind).catch((e) => res.error(`${BENCH} ${kind} run ${run}`, e));
    }
  }
}
