// Secondary figure: the forwarder's publish rate (changes/s) to Kafka and to SQS on a simple insert
// workload (~80-byte rows). Two shapes: "backlog" publishes N changes captured while no forwarder
// ran (transactions of 5000 rows); "live" publishes while a writer commits transactions of 100 rows.
import { performance } from 'node:perf_hooks';
import type { Client } from 'pg';
import { createDatabase, dropDatabase, heldClient, sql, uniq } from './lib/db';
import { dcConfig, FerryProcess, prepareDc, startFerry, writeConfig } from './lib/ferry';
import { services } from './lib/paths';
import { published } from './lib/positions';
import { Results } from './lib/results';
import { settings, TransportKind } from './lib/settings';
import { dropTransport } from './lib/transport-cleanup';
import { log } from './lib/setup';
import { perSecond, sleep } from './lib/stats';

const BENCH = 'forward';
const TIMEOUT_MS = 300_000;
export const EVENTS_DDL = 'create table public.events (id bigint primary key, kind text not null, payload text, at timestamptz not null default now())';

/** One connection for the whole run, as an application would hold one. */
export async function insertEvents(c: Client, from: number, count: number, perTx: number): Promise<void> {
  for (let i = 0; i < count; i += perTx) {
    await c.query(`insert into public.events (id, kind, payload) select g, 'click', md5(g::text) from generate_series($1::bigint, $1::bigint + $2 - 1) g`, [from + i, Math.min(perTx, count - i)]);
  }
}

async function publishedUpTo(c: Client, n: number, fwd: FerryProcess): Promise<void> {
  const end = performance.now() + TIMEOUT_MS;
  for (;;) {
    fwd.check();
    const pos = (await published(c)).pos;
    if (pos >= n) return;
    if (performance.now() > end) throw new Error(`${pos} of ${n} changes published after ${TIMEOUT_MS / 1000} s; log ${fwd.logFile}`);
    await sleep(10);
  }
}

async function one(res: Results, run: number, kind: TransportKind, shape: 'backlog' | 'live'): Promise<void> {
  const N = settings.insertChanges;
  const url = await createDatabase(services().FERRY_DC_A_URL, uniq('bench_'));
  const prefix = uniq('b');
  let fwd: FerryProcess | undefined;
  const c = await heldClient(url);
  try {
    await sql(url, EVENTS_DDL);
    const cfgFile = writeConfig(dcConfig('dc-a', url, kind, prefix, ['dc-b']));
    await prepareDc(cfgFile, ['public.events']);
    const start = () => startFerry(`forward-${kind}-${shape}-${run}`, 'dc-a-forward', 'forward', cfgFile);
    let ms: number;
    if (shape === 'backlog') {
      await insertEvents(c, 1, N, 5000);
      fwd = start();
      await publishedUpTo(c, N, fwd);
      // timed on dc-a's clock from the forwarder's first tick to its last publish: process start
      // and transport setup are left out (a small backlog can be one tick, published at once)
      const r = await c.query<{ s: string }>('select extract(epoch from max(published_at) - min(created_at)) as s from ferry.ticks where tick > 0');
      ms = Number(r.rows[0].s) * 1000;
    } else {
      fwd = start();
      await sleep(3000);
      fwd.check();
      const t0 = performance.now();
      await insertEvents(c, 1, N, 100);
      await publishedUpTo(c, N, fwd);
      ms = performance.now() - t0;
    }
    await fwd.stop();
    const rate = perSecond(N, ms);
    res.add(BENCH, `${kind}, ${shape}: publish rate`, 'changes/s', rate);
    res.detail(BENCH, { run, transport: kind, shape, changes: N, seconds: +(ms / 1000).toFixed(2), 'changes/s': Math.round(rate), 'forward MB': Math.round(fwd.rss.peakMb()) });
    log(BENCH, `run ${run} ${kind} ${shape}: ${Math.round(rate)} changes/s`);
  } finally {
    await fwd?.stop();
    await c.end();
    await dropDatabase(url);
    await dropTransport(kind, prefix);
  }
}

export async function forward(res: Results): Promise<void> {
  res.note(BENCH, `${settings.insertChanges} inserts of ~80-byte rows into one table; \`ferry forward\` as its own process. "backlog": captured with no forwarder running (transactions of 5000), timed on dc-a's clock from the forwarder's first tick to its last publish; "live": while a writer commits 100-row transactions (bounded by the slower of the two).`);
  for (let run = 1; run <= settings.runs; run++) {
    for (const kind of ['kafka', 'sqs'] as const) {
      for (const shape of ['backlog', 'live'] as const) await one(res, run, kind, shape).catch((e) => res.error(`${BENCH} ${kind} ${shape} run ${run}`, e));
    }
  }
}
