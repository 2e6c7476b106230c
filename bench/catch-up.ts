// Catch-up: the same pgbench backlog drained by Ferry and by PostgreSQL's own logical replication.
//
// Ferry: dc-a takes the load with nothing of Ferry running (the triggers capture it); then
// `ferry forward` publishes it (timed until a tick covering the end-of-load marker is published);
// then `ferry apply` starts in dc-b, timed from its start until dc-b's applied position for dc-a
// reaches the published one. Native: a publication and a disabled subscription exist before the
// same load; `alter subscription … enable`, timed until the end-of-load marker is visible at the
// subscriber. Both apply in commit order, so the marker's arrival means everything before it is
// there. Ratios are taken within each run (native and Ferry run back to back).
import { performance } from 'node:perf_hooks';
import type { Client } from 'pg';
import { execFormatted, heldClient } from './lib/db';
import { FerryProcess, startFerry, stopAll } from './lib/ferry';
import { compareAll } from './lib/fingerprint';
import { nativeDatabases, nativePairDown, nativePairUp } from './lib/native';
import { CHANGES_PER_TX, runPgbench, TABLE_KEYS } from './lib/pgbench';
import { appliedPos, published } from './lib/positions';
import { ProbeWriter } from './lib/probe';
import { Results } from './lib/results';
import { settings, TransportKind } from './lib/settings';
import { log, pgbenchDcs } from './lib/setup';
import { perSecond, sleep } from './lib/stats';

const BENCH = 'catch-up';
const POLL_MS = 10;

function txPerClient(): number {
  return Math.ceil(settings.catchUpChanges / CHANGES_PER_TX / settings.clients);
}

async function markerVisible(c: Client, id: number): Promise<boolean> {
  return (await c.query('select 1 from public.bench_probe where id = $1', [id])).rows.length > 0;
}

/** Polls `done` every POLL_MS until it holds or the timeout passes; returns the elapsed ms and whether it held. */
async function timeUntil(t0: number, timeoutS: number, done: () => Promise<boolean>, alive: () => void = () => undefined): Promise<{ ms: number; done: boolean }> {
  for (;;) {
    alive();
    if (await done()) return { ms: performance.now() - t0, done: true };
    if (performance.now() - t0 > timeoutS * 1000) return { ms: performance.now() - t0, done: false };
    await sleep(POLL_MS);
  }
}

interface Rate {
  rate: number;
  /** Ferry only: from the first applied change (process start and transport setup left out) */
  afterFirst?: number;
  /** the drain was cut by the timeout: the true rate is lower */
  capped: boolean;
}

async function native(res: Results, run: number): Promise<Rate> {
  const pair = await nativeDatabases(settings.scale);
  const sub = await heldClient(pair.subUrl);
  const pub = await heldClient(pair.pubUrl);
  try {
    const load = await runPgbench(pair.pubUrl, settings.clients, { transactions: txPerClient() });
    const marker = await new ProbeWriter(pub).write();
    const t0 = performance.now();
    await execFormatted(pair.subAdmin, 'alter subscription %I enable', [pair.subscription]);
    let first: number | undefined;
    const r = await timeUntil(t0, settings.catchUpTimeoutS, async () => {
      if (first === undefined && (await sub.query('select 1 from public.pgbench_history limit 1')).rows.length) first = performance.now() - t0;
      return markerVisible(sub, marker.id);
    });
    const rate = perSecond(load.changes, r.ms);
    const check = await compareAll([pair.pubUrl, pair.subUrl], TABLE_KEYS);
    res.add(BENCH, 'native logical replication: drain rate', 'changes/s', rate, r.done ? {} : { bound: 'atMost' });
    res.detail(BENCH, { run, who: 'native', changes: load.changes, 'load tps': Math.round(load.tps), 'drain s': +(r.ms / 1000).toFixed(2), 'first applied s': first === undefined ? null : +(first / 1000).toFixed(2), 'changes/s': Math.round(rate), identical: check.identical });
    if (!check.identical) res.note(BENCH, `run ${run}: the native subscriber differs from its publisher in ${JSON.stringify(check.differ)}`);
    log(BENCH, `run ${run} native: ${load.changes} changes drained in ${(r.ms / 1000).toFixed(2)} s (${Math.round(rate)}/s), identical=${check.identical}`);
    return { rate, capped: !r.done };
  } finally {
    await Promise.all([sub.end(), pub.end()]);
    await pair.drop();
  }
}

async function ferry(res: Results, run: number, kind: TransportKind): Promise<Rate> {
  const dcs = await pgbenchDcs(kind, ['dc-a', 'dc-b'], settings.scale);
  const procs: FerryProcess[] = [];
  const [a, b] = [await heldClient(dcs.url['dc-a']), await heldClient(dcs.url['dc-b'])];
  const id = `catchup-${kind}-${run}`;
  try {
    const load = await runPgbench(dcs.url['dc-a'], settings.clients, { transactions: txPerClient() });
    const marker = await new ProbeWriter(a).write();
    const alive = () => procs.forEach((p) => p.check());

    // the forwarder publishes the backlog
    const tf = performance.now();
    const fwd = startFerry(id, 'dc-a-forward', 'forward', dcs.cfgFile['dc-a']);
    procs.push(fwd);
    let target = 0;
    const f = await timeUntil(tf, settings.catchUpTimeoutS, async () => {
      const p = await published(a, marker.xid);
      target = p.pos;
      return p.covers;
    }, alive);
    if (!f.done) throw new Error(`the forwarder had published ${target} changes after ${settings.catchUpTimeoutS} s (BENCH_CATCHUP_TIMEOUT_S); log ${fwd.logFile}`);
    const fwdRate = perSecond(target, f.ms);

    // the applier, started after everything is in the transport
    const ta = performance.now();
    const app = startFerry(id, 'dc-b-apply', 'apply', dcs.cfgFile['dc-b']);
    procs.push(app);
    let first: number | undefined;
    let pos = 0;
    const r = await timeUntil(ta, settings.catchUpTimeoutS, async () => {
      pos = await appliedPos(b, 'dc-a');
      if (first === undefined && pos > 0) first = performance.now() - ta;
      return pos >= target;
    }, alive);
    const seen = await markerVisible(b, marker.id);
    await stopAll(procs);
    const rate = perSecond(r.done ? target : pos, r.ms);
    const afterFirst = first === undefined ? NaN : perSecond(r.done ? target : pos, r.ms - first);
    const check = await compareAll([dcs.url['dc-a'], dcs.url['dc-b']], TABLE_KEYS);
    const bound = r.done ? {} : ({ bound: 'atMost' } as const);
    res.add(BENCH, `Ferry over ${kind}: apply drain rate, from applier start`, 'changes/s', rate, bound);
    res.add(BENCH, `Ferry over ${kind}: apply drain rate, from its first applied change`, 'changes/s', afterFirst, bound);
    res.add(BENCH, `Ferry over ${kind}: forwarder publish rate of the backlog, from its start`, 'changes/s', fwdRate);
    res.add(BENCH, `Ferry over ${kind}: peak RSS of \`ferry forward\``, 'MB', fwd.rss.peakMb(), { target: '≤ 256', headline: true });
    res.add(BENCH, `Ferry over ${kind}: peak RSS of \`ferry apply\``, 'MB', app.rss.peakMb(), { target: '≤ 256', headline: true });
    res.detail(BENCH, {
      run,
      who: `Ferry ${kind}`,
      changes: target,
      'load tps': Math.round(load.tps),
      'publish s': +(f.ms / 1000).toFixed(2),
      'drain s': +(r.ms / 1000).toFixed(2),
      'first applied s': first === undefined ? null : +(first / 1000).toFixed(2),
      'changes/s': Math.round(rate),
      'marker seen': seen,
      identical: check.identical,
      'forward MB': Math.round(fwd.rss.peakMb()),
      'apply MB': Math.round(app.rss.peakMb()),
    });
    if (!r.done) res.note(BENCH, `run ${run} ${kind}: dc-b had applied ${pos} of ${target} changes when the ${settings.catchUpTimeoutS} s timeout (BENCH_CATCHUP_TIMEOUT_S) stopped it; its rate is an upper bound`);
    if (r.done && !check.identical) res.note(BENCH, `run ${run} ${kind}: dc-b differs from dc-a in ${JSON.stringify(check.differ)}`);
    log(BENCH, `run ${run} Ferry/${kind}: published ${target} in ${(f.ms / 1000).toFixed(2)} s, applied in ${(r.ms / 1000).toFixed(2)} s (${Math.round(rate)}/s), identical=${check.identical}`);
    return { rate, afterFirst, capped: !r.done };
  } finally {
    await stopAll(procs);
    await Promise.all([a.end(), b.end()]);
    await dcs.drop();
  }
}

export async function catchUp(res: Results): Promise<void> {
  const changes = txPerClient() * settings.clients * CHANGES_PER_TX;
  res.note(BENCH, `Backlog: pgbench TPC-B-like, scale ${settings.scale}, ${settings.clients} clients × ${txPerClient()} transactions = ${changes} changes (+1 end-of-load marker row).`);
  res.note(BENCH, 'Ferry: the load runs with no Ferry process (triggers capture it); `ferry forward` (dc-a → transport) then publishes it; `ferry apply` in dc-b starts only once all is published. "from applier start" includes process start and joining the consumer group; "from its first applied change" leaves those out.');
  res.note(BENCH, 'Native: the publication and a disabled subscription (copy_data = false) exist before the load; timed from `alter subscription … enable` until the end-of-load marker row is visible at the subscriber (it applies in commit order, so everything before it is there). The slot\'s confirmed_flush_lsn is not used: the subscriber reports it only after its own WAL flush, up to wal_writer_delay later.');
  res.note(BENCH, 'Every run ends with an md5 comparison of the four pgbench tables between source and destination ("identical").');
  await nativePairUp();
  try {
    for (let run = 1; run <= settings.runs; run++) {
      const nat = await native(res, run).catch((e) => {
        res.error(`${BENCH} native run ${run}`, e);
        return undefined;
      });
      for (const kind of settings.catchUpTransports) {
        const fer = await ferry(res, run, kind).catch((e) => {
          res.error(`${BENCH} ${kind} run ${run}`, e);
          return undefined;
        });
        if (!nat || !fer || (nat.capped && fer.capped)) continue;
        const bound = fer.capped ? 'atMost' : nat.capped ? 'atLeast' : undefined;
        res.add(BENCH, `ratio Ferry over ${kind} / native (apply drain, from applier start)`, '×', fer.rate / nat.rate, { bound, target: kind === 'kafka' ? '≥ 0.5 (aim > 1.0)' : 'report', headline: true });
        if (fer.afterFirst) res.add(BENCH, `ratio Ferry over ${kind} / native (apply drain, from its first applied change)`, '×', fer.afterFirst / nat.rate, { bound });
      }
    }
  } finally {
    await nativePairDown();
  }
}
