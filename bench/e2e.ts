// Secondary figure: end-to-end rate, changes/s from commit in dc-a to applied in dc-b AND dc-c, over
// Kafka and SQS, for transactions of 500 inserts into one table, with every DC running `ferry run`
// as its own process; plus single-row latency (commit in dc-a → visible in dc-b, watched every
// 2 ms), median and p95 of 20 samples taken one at a time on an idle pipeline.
import { performance } from 'node:perf_hooks';
import type { Client } from 'pg';
import { heldClient, sql } from './lib/db';
import { FerryProcess, startFerry, stopAll } from './lib/ferry';
import { appliedPos } from './lib/positions';
import { Results } from './lib/results';
import { settings, TransportKind } from './lib/settings';
import { createDcs, log } from './lib/setup';
import { perSecond, percentile, sleep } from './lib/stats';
import { EVENTS_DDL, insertEvents } from './forward';

const BENCH = 'e2e';

async function visible(c: Client, id: number, timeoutMs: number, alive: () => void): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    alive();
    if ((await c.query('select 1 from public.events where id = $1', [id])).rows.length) return true;
    await sleep(2);
  }
  return false;
}

async function one(res: Results, run: number, kind: TransportKind): Promise<void> {
  const N = settings.insertChanges;
  const dcs = await createDcs(kind, ['dc-a', 'dc-b', 'dc-c'], (url) => sql(url, EVENTS_DDL).then(() => undefined), ['public.events']);
  const procs: FerryProcess[] = [];
  const clients: Client[] = [];
  try {
    for (const dc of dcs.names) procs.push(startFerry(`e2e-${kind}-${run}`, `${dc}-run`, 'run', dcs.cfgFile[dc]));
    const alive = () => procs.forEach((p) => p.check());
    const [a, b, c] = await Promise.all(['dc-a', 'dc-b', 'dc-c'].map((dc) => heldClient(dcs.url[dc])));
    clients.push(a, b, c);
    // warm-up: a row reaches dc-b before anything is timed
    await a.query(`insert into public.events values (0, 'warm-up', null)`);
    if (!(await visible(b, 0, 120_000, alive))) throw new Error('the warm-up row did not reach dc-b within 120 s');
    const lat: number[] = [];
    for (let i = 0; i < 20; i++) {
      const id = 10_000_000 + i;
      const t = performance.now();
      await a.query(`insert into public.events values ($1, 'ping', null)`, [id]);
      if (!(await visible(b, id, 30_000, alive))) throw new Error(`ping ${id} did not reach dc-b within 30 s`);
      lat.push(performance.now() - t);
      await sleep(200);
    }
    const base = await appliedPos(b, 'dc-a');
    const t0 = performance.now();
    await insertEvents(a, 1, N, 500);
    const writeMs = performance.now() - t0;
    const end = t0 + 300_000;
    while (!((await appliedPos(b, 'dc-a')) >= base + N && (await appliedPos(c, 'dc-a')) >= base + N)) {
      alive();
      if (performance.now() > end) throw new Error('not applied in dc-b and dc-c within 300 s');
      await sleep(20);
    }
    const ms = performance.now() - t0;
    await stopAll(procs);
    const rate = perSecond(N, ms);
    res.add(BENCH, `${kind}: commit in dc-a → applied in dc-b and dc-c`, 'changes/s', rate);
    res.add(BENCH, `${kind}: single-row latency p50 (idle pipeline)`, 'ms', percentile(lat, 0.5));
    res.add(BENCH, `${kind}: single-row latency p95 (idle pipeline)`, 'ms', percentile(lat, 0.95));
    res.detail(BENCH, { run, transport: kind, changes: N, 'write s': +(writeMs / 1000).toFixed(2), 'until applied in both s': +(ms / 1000).toFixed(2), 'e2e changes/s': Math.round(rate), 'latency p50 ms': Math.round(percentile(lat, 0.5)), 'latency p95 ms': Math.round(percentile(lat, 0.95)) });
    log(BENCH, `run ${run} ${kind}: ${Math.round(rate)} changes/s; single-row p50 ${Math.round(percentile(lat, 0.5))} ms`);
  } finally {
    await stopAll(procs);
    await Promise.all(clients.map((x) => x.end().catch(() => undefined)));
    await dcs.drop();
  }
}

export async function e2e(res: Results): Promise<void> {
  res.note(BENCH, `${settings.insertChanges} inserts into one table in transactions of 500; timed from the first write until dc-b and dc-c both record the last position applied. Three DCs, each \`ferry run\` in its own process.`);
  for (let run = 1; run <= settings.runs; run++) {
    for (const kind of ['kafka', 'sqs'] as const) await one(res, run, kind).catch((e) => res.error(`${BENCH} ${kind} run ${run}`, e));
  }
}
