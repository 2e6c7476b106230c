// Latency: commit in dc-a → visible in dc-b at an offered BENCH_LATENCY_RATE changes/s, with
// `ferry run` in all three DCs. The offered load is pgbench's TPC-B-like script paced by pgbench
// itself (--rate) plus BENCH_PROBE_RATE probe rows a second; each probe is one sample: from its
// commit's acknowledgement in dc-a to the first poll of dc-b (every BENCH_WATCH_MS on one held
// connection) that sees it.
import type { Client } from 'pg';
import { heldClient } from './lib/db';
import { FerryProcess, startFerry, stopAll, writeConfig } from './lib/ferry';
import { CHANGES_PER_TX, runPgbench } from './lib/pgbench';
import { ProbeWatcher, ProbeWriter } from './lib/probe';
import { Results } from './lib/results';
import { settings, TransportKind } from './lib/settings';
import { log, pgbenchDcs } from './lib/setup';
import { freePort, readStages, StageFigure } from './lib/stages';
import { percentile } from './lib/stats';

const BENCH = 'latency';
const STAGES = 'latency stages';

async function one(res: Results, run: number, kind: TransportKind): Promise<void> {
  const dcs = await pgbenchDcs(kind, ['dc-a', 'dc-b', 'dc-c'], settings.scale);
  const id = `latency-${kind}-${run}`;
  const procs: FerryProcess[] = [];
  const clients: Client[] = [];
  try {
    // known HTTP ports, to read the stage histograms from /metrics at the end
    const port: Record<string, number> = {};
    for (const dc of dcs.names) {
      port[dc] = await freePort();
      procs.push(startFerry(id, `${dc}-run`, 'run', writeConfig({ ...dcs.cfg[dc], http: { port: port[dc] } })));
    }
    const alive = () => procs.forEach((p) => p.check());
    const [a, b] = [await heldClient(dcs.url['dc-a']), await heldClient(dcs.url['dc-b'])];
    clients.push(a, b);
    const writer = new ProbeWriter(a);
    const watcher = new ProbeWatcher(b, writer);
    const warm = await writer.write();
    if (!(await watcher.waitFor(warm.id, 120_000, alive))) throw new Error('the warm-up row did not reach dc-b within 120 s');
    writer.committed.clear();

    const tps = Math.max(1, Math.round((settings.latencyRate - settings.probeRate) / CHANGES_PER_TX));
    watcher.start(settings.watchEveryMs);
    writer.start(settings.probeRate);
    const load = await runPgbench(dcs.url['dc-a'], Math.min(4, settings.clients), { seconds: settings.latencySeconds, rate: tps });
    await writer.stop();
    const last = Math.max(...writer.committed.keys());
    await watcher.waitFor(last, settings.latencyDrainS * 1000, alive);
    await watcher.stop();
    const stages = await Promise.all([readStages(port['dc-a'], 'dc-a'), readStages(port['dc-b'], 'dc-a')]).then(
      (x) => x.flat(),
      (e) => {
        res.note(BENCH, `run ${run} ${kind}: the stage histograms could not be read: ${(e as Error).message}`);
        return [] as StageFigure[];
      },
    );
    const { seen, unseen } = watcher.latencies();
    await stopAll(procs);
    // a probe never seen counts with its age at the end: a lower bound, never left out
    const all = [...seen, ...unseen];
    const offered = (load.changes + writer.committed.size) / settings.latencySeconds;
    const [p50, p95, p99] = [0.5, 0.95, 0.99].map((q) => percentile(all, q));
    // with probes never seen, a percentile that reaches into them is only a lower bound
    const bound = (q: number) => (unseen.length > (1 - q) * all.length ? ({ bound: 'atLeast' } as const) : {});
    res.add(BENCH, `${kind}: p50`, 'ms', p50, bound(0.5));
    res.add(BENCH, `${kind}: p95`, 'ms', p95, bound(0.95));
    res.add(BENCH, `${kind}: p99`, 'ms', p99, { ...bound(0.99), headline: true, target: kind === 'kafka' ? '≤ 100' : 'report' });
    res.add(BENCH, `${kind}: max`, 'ms', Math.max(...all), bound(1));
    res.add(BENCH, `${kind}: achieved offered rate`, 'changes/s', offered);
    res.detail(BENCH, {
      run,
      transport: kind,
      'offered changes/s': Math.round(offered),
      samples: all.length,
      'never seen': unseen.length,
      'p50 ms': Math.round(p50),
      'p95 ms': Math.round(p95),
      'p99 ms': Math.round(p99),
      'max ms': Math.round(Math.max(...all)),
      'RSS MB a/b/c': procs.map((p) => Math.round(p.rss.peakMb())).join('/'),
    });
    for (const st of stages) {
      res.detail(STAGES, { run, transport: kind, side: st.side, stage: st.stage, n: st.n, 'mean ms': st.meanMs.toFixed(1), 'p50 ms': st.p50Ms.toFixed(1), 'p99 ms': st.p99Ms.toFixed(1) });
    }
    if (stages.length) log(BENCH, `run ${run} ${kind} stages (mean/p50/p99 ms): ${stages.map((st) => `${st.side}.${st.stage} ${st.meanMs.toFixed(1)}/${st.p50Ms.toFixed(1)}/${st.p99Ms.toFixed(1)}`).join(', ')}`);
    if (unseen.length) res.note(BENCH, `run ${run} ${kind}: ${unseen.length} probes were not visible in dc-b ${settings.latencyDrainS} s after the load (BENCH_LATENCY_DRAIN_S); they count with their age then`);
    log(BENCH, `run ${run} ${kind}: ${Math.round(offered)} changes/s offered; p50 ${Math.round(p50)} ms, p99 ${Math.round(p99)} ms over ${all.length} probes`);
  } finally {
    await stopAll(procs);
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await dcs.drop();
  }
}

export async function latency(res: Results): Promise<void> {
  res.note(BENCH, `Offered ${settings.latencyRate} changes/s for ${settings.latencySeconds} s: pgbench TPC-B-like --rate ${Math.round((settings.latencyRate - settings.probeRate) / CHANGES_PER_TX)} tps (4 changes each, ${Math.min(4, settings.clients)} clients) + ${settings.probeRate} probe rows/s; \`ferry run\` in dc-a, dc-b and dc-c.`);
  res.note(BENCH, `A sample: the commit of a probe row in dc-a (acknowledged) → the first poll of dc-b that sees it (polled every ${settings.watchEveryMs} ms on a held connection; the poll's send time).`);
  res.note(STAGES, "Ferry's own stage histograms over the whole run (warm-up included), dc-a's forwarder (ferry_forward_stage_seconds, per batch) and dc-b's applier of dc-a (ferry_apply_stage_seconds, per delivery or group); quantiles interpolated within buckets. captured_to_cut: the batch's oldest change (its ferry.clock stamp) to the tick; cut_to_taken: the tick waits for the forwarder; stamp; publish: read + encode + transport until acknowledged; mark: published_at; tick_to_delivered: the subscriber hands the frames over (origin's tick time, same host clock); delivered_to_applying: until its first change is taken into a destination transaction (it waits behind the group being written); write, commit, ack: per group; tick_to_committed: the tick to the destination commit.");
  for (let run = 1; run <= settings.runs; run++) {
    for (const kind of settings.latencyTransports) {
      await one(res, run, kind).catch((e) => res.error(`${BENCH} ${kind} run ${run}`, e));
    }
  }
}
