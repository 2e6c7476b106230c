// What capture costs the application: pgbench's TPC-B-like script on dc-a in one database, in
// alternating runs: plain (tables not tracked), tracked (Ferry's triggers, no Ferry process), and
// tracked with `ferry forward` publishing to Kafka beside it (its queries and CPU count too).
// Reported as TPS ratios tracked/plain within each triple (1.0 = free) — ratios, because this
// machine is shared.
import { createDatabase, dropDatabase, heldClient, sql, uniq } from './lib/db';
import { dcConfig, FerryProcess, ferryCli, startFerry, writeConfig } from './lib/ferry';
import { services } from './lib/paths';
import { initPgbench, PGBENCH_TABLES, PgbenchResult, PROBE_TABLE, runPgbench } from './lib/pgbench';
import { published } from './lib/positions';
import { ProbeWriter } from './lib/probe';
import { Results } from './lib/results';
import { settings } from './lib/settings';
import { dropTransport } from './lib/transport-cleanup';
import { log } from './lib/setup';
import { median, sleep } from './lib/stats';

const BENCH = 'capture-cost';

/** pgbench does this before a run unless -n: small, hot tables without their dead rows. */
async function fresh(url: string): Promise<void> {
  await sql(url, 'vacuum public.pgbench_branches, public.pgbench_tellers');
}

async function pgbench(url: string): Promise<PgbenchResult> {
  await fresh(url);
  return runPgbench(url, settings.clients, { seconds: settings.captureSeconds });
}

/** Waits until the forwarder has published everything committed so far (or timeoutMs passes). */
async function publishedAll(url: string, fwd: FerryProcess, timeoutMs: number): Promise<number | undefined> {
  const c = await heldClient(url);
  try {
    const marker = await new ProbeWriter(c, Date.now()).write();
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      fwd.check();
      if ((await published(c, marker.xid)).covers) return Date.now() - t0;
      await sleep(50);
    }
    return undefined;
  } finally {
    await c.end();
  }
}

export async function captureCost(res: Results): Promise<void> {
  const url = await createDatabase(services().FERRY_DC_A_URL, uniq('bench_'));
  const prefix = uniq('b');
  let fwd: FerryProcess | undefined;
  try {
    await initPgbench(url, settings.scale);
    const cfgFile = writeConfig(dcConfig('dc-a', url, 'kafka', prefix, ['dc-b']));
    await ferryCli(['init'], cfgFile);
    // the probe table carries the markers that say "published up to here"; nothing else writes it
    await ferryCli(['track', PROBE_TABLE], cfgFile);
    const ratios: number[] = [];
    const withFwd: number[] = [];
    for (let run = 1; run <= settings.runs; run++) {
      const plain = await pgbench(url);
      await ferryCli(['track', ...PGBENCH_TABLES], cfgFile);
      const tracked = await pgbench(url);
      // the forwarder first publishes what the tracked run captured, outside the timed run
      fwd = startFerry(`capture-${run}`, 'dc-a-forward', 'forward', cfgFile);
      const backlogMs = await publishedAll(url, fwd, 120_000);
      if (backlogMs === undefined) throw new Error(`the forwarder did not publish the tracked run's changes within 120 s; log ${fwd.logFile}`);
      const before = (await publishedPos(url)) ?? 0;
      const forwarded = await pgbench(url);
      const atEnd = (await publishedPos(url)) ?? 0;
      const behind = forwarded.changes - (atEnd - before);
      const catchUpMs = await publishedAll(url, fwd, 120_000);
      await fwd.stop();
      fwd = undefined;
      await ferryCli(['untrack', ...PGBENCH_TABLES], cfgFile);
      const r1 = tracked.tps / plain.tps;
      const r2 = forwarded.tps / plain.tps;
      ratios.push(r1);
      withFwd.push(r2);
      res.add(BENCH, 'triggers only: TPS tracked / plain', '×', r1, { headline: true, target: '≥ 0.90' });
      res.add(BENCH, 'with `ferry forward` (Kafka) beside: TPS tracked / plain', '×', r2, { headline: true, target: '≥ 0.80, keeping up' });
      res.add(BENCH, 'plain TPS', 'tps', plain.tps);
      res.add(BENCH, 'forwarder backlog when its run ended', 'changes', Math.max(0, behind));
      res.detail(BENCH, {
        run,
        'plain tps': Math.round(plain.tps),
        'tracked tps': Math.round(tracked.tps),
        'tracked + forwarder tps': Math.round(forwarded.tps),
        'ratio tracked': +r1.toFixed(3),
        'ratio + forwarder': +r2.toFixed(3),
        'forwarder behind at end (changes)': Math.max(0, behind),
        'then published in s': catchUpMs === undefined ? 'timeout' : +(catchUpMs / 1000).toFixed(2),
      });
      log(BENCH, `run ${run}: plain ${Math.round(plain.tps)}, tracked ${Math.round(tracked.tps)} (${r1.toFixed(3)}), + forwarder ${Math.round(forwarded.tps)} (${r2.toFixed(3)}), forwarder ${Math.max(0, behind)} changes behind at the end`);
    }
    res.note(BENCH, `pgbench TPC-B-like, scale ${settings.scale}, ${settings.clients} clients, ${settings.captureSeconds} s runs, in the order plain → tracked → tracked + \`ferry forward\` in each run; pgbench_branches and pgbench_tellers vacuumed before every run (as pgbench does without -n).`);
    res.note(BENCH, `Median ratios: triggers only ${median(ratios).toFixed(3)}, with the forwarder ${median(withFwd).toFixed(3)}. "forwarder backlog": changes of the run not yet published when pgbench ended (0 = it kept up).`);
  } finally {
    await fwd?.stop();
    await dropDatabase(url);
    await dropTransport('kafka', prefix);
  }
}

async function publishedPos(url: string): Promise<number | undefined> {
  const c = await heldClient(url);
  try {
    return (await published(c)).pos;
  } finally {
    await c.end();
  }
}
