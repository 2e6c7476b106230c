import { Pool } from 'pg';
import type { FerryConfig } from '../config/schema';
import { createPool } from '../common/db';
import { FerryError } from '../common/errors';
import { Leadership, LeaderRole, runAsLeader } from '../common/leadership';
import { FORWARDER_KEY, LOCK_CLASS } from '../common/locks';
import type { Logger } from '../common/logger';
import { forwardLeader, forwardedBatches, forwardedChanges, forwardedFrames, forwardStageSeconds } from '../common/metrics';
import { Signal } from '../common/sleep';
import { Change, EncodedFrame, encodeFrames, encodeHeartbeat } from '../protocol/envelope';
import { forwarderEpochs } from '../tables/state';
import { markPublishedIfLeading, nextBatch, stampBatch, stampOf, Tick } from '../tables/ticks';
import type { Publisher } from '../transport/types';
import { readBatch } from './batch-reader';
import { checkLineage, Lineage } from './lineage';
import { Pruner } from './pruner';
import { Ticker } from './ticker';

const ROLE: LeaderRole = { name: 'forwarder', appName: 'ferry-forwarder', lock: { classId: LOCK_CLASS, key: FORWARDER_KEY }, epochs: forwarderEpochs };

/**
 * The origin side of one DC: while it leads, it cuts ticks, publishes each batch between two ticks
 * and marks the tick published only after the transport acknowledged it (DESIGN.md §3).
 */
export class Forwarder {
  private pool: Pool;

  constructor(
    private readonly cfg: FerryConfig,
    private readonly publisher: Publisher,
    private readonly log: Logger,
  ) {
    this.pool = createPool(cfg.database, { max: 4, application_name: 'ferry-forwarder' });
  }

  /** Runs until stop aborts: stands by while another process leads, takes over when it can. */
  async run(stop: AbortSignal): Promise<void> {
    try {
      await runAsLeader({ url: this.cfg.database, role: ROLE, log: this.log, stop, lead: (l, signal, log) => this.lead(l, signal, log) });
    } finally {
      await this.pool.end().catch(() => undefined);
    }
  }

  private async lead(leader: Leadership, stop: AbortSignal, log: Logger): Promise<void> {
    // before anything is cut, stamped, published or pruned: is this still the database whose
    // positions the peers hold? (a restored, promoted or moved one stops here, see lineage.ts)
    const lineage = await checkLineage(this.pool, this.cfg.origin);
    forwardLeader.set({ origin: this.cfg.origin }, 1);
    try {
      await this.publisher.start();
      const ticked = new Signal();
      let publishing = false;
      // the newest tick the ticker cut, and the newest this loop published: while a cut tick waits to
      // be published the forwarder is as busy as while it publishes (a tick cut between two batches
      // of a backlog would only queue behind it, and the backlog would never fold into one batch)
      let lastCut = 0;
      let lastPublished = 0;
      const ticker = new Ticker(
        this.pool,
        this.cfg.forward,
        log,
        (tick) => {
          lastCut = tick;
          ticked.notify();
        },
        () => publishing || lastCut > lastPublished,
      );
      const pruned = new AbortController();
      const prunerDone = new Pruner(this.pool, this.cfg, log).loop(AbortSignal.any([stop, pruned.signal]));
      // the ticker runs beside the publishing loop so large backlogs are still cut into bounded
      // batches; a ticker failure (a lost connection) ends this leadership, rethrown below, once
      let tickerError: unknown;
      const tickerDone = ticker.run(stop).catch((e) => {
        tickerError = e;
        ticked.notify();
      });
      try {
        while (!stop.aborted && tickerError === undefined) {
          const next = await nextBatch(this.pool);
          if (!next) {
            await ticked.wait(1000, stop);
            continue;
          }
          // a batch that has begun is finished (or abandoned by an error) before SIGTERM is honoured
          publishing = true;
          try {
            await this.forwardBatch(next.prev, next.cur, leader, lineage, log);
            lastPublished = next.cur.tick;
          } finally {
            publishing = false;
            ticker.publishingDone();
          }
        }
      } finally {
        ticker.stop();
        pruned.abort();
        await Promise.all([tickerDone, prunerDone]);
      }
      if (tickerError !== undefined) throw tickerError;
    } finally {
      forwardLeader.set({ origin: this.cfg.origin }, 0);
      await this.publisher.stop().catch(() => undefined);
    }
  }

  private async forwardBatch(prev: Tick, cur: Tick, leader: Leadership, lineage: Lineage, log: Logger): Promise<void> {
    const t = new StageClock(cur.createdAt.getTime());
    const { first, cnt } = await this.stamp(prev, cur, leader);
    t.lap('stamp');
    let oldestMs = Infinity;
    if (cnt > 0) {
      const client = await this.pool.connect();
      let seen = 0;
      let frames = 0;
      let readMs = 0;
      try {
        const { origin, forward, transport } = this.cfg;
        const epoch = leader.epoch;
        async function* groups(): AsyncGenerator<EncodedFrame[]> {
          let from = Date.now();
          for await (const changes of readBatch(client, prev, cur, first, forward.readChunk, cnt)) {
            checkPositions(changes, first + seen);
            seen += changes.length;
            for (const c of changes) if (c.ms > 0 && c.ms < oldestMs) oldestMs = c.ms;
            // the vector of the tick before: everything it covers was applied here before any change
            // of this batch committed, and a peer records it once any change of the batch is applied
            // (this tick's own vector is only true once all of the batch is, which no frame can tell)
            // and this tick's snapshot with the batch's last position: once a peer has applied up to
            // there, every transaction visible in the snapshot is applied (read-your-writes tokens)
            const meta = { origin, epoch, tick: cur.tick, at: cur.createdAt.toISOString(), seen: prev.seen, snap: cur.snap, end: first + cnt - 1, lineage };
            const f = encodeFrames(meta, changes, transport.maxFrameBytes);
            frames += f.length;
            readMs += Date.now() - from;
            yield f;
            from = Date.now();
          }
          if (seen !== cnt) throw new FerryError(`tick ${cur.tick} was stamped with ${cnt} changes but ${seen} were read: the change table lost rows`);
        }
        await this.publisher.publish(cur.tick, groups());
      } finally {
        client.release();
      }
      failpoint('after-publish');
      t.lap('publish');
      t.part('read', readMs);
      forwardedChanges.inc({ origin: this.cfg.origin }, cnt);
      forwardedFrames.inc({ origin: this.cfg.origin }, frames);
    } else if (!sameVector(prev.seen, cur.seen)) {
      // nothing of our own to send, but what we applied moved on: the peers learn it (this tick's
      // vector: the batch is empty, so everything before the tick is in the batches before it)
      const meta = { origin: this.cfg.origin, epoch: leader.epoch, tick: cur.tick, at: cur.createdAt.toISOString(), seen: cur.seen, snap: cur.snap, end: first - 1, lineage };
      await this.publisher.publish(
        cur.tick,
        (async function* () {
          yield [encodeHeartbeat(meta, first - 1)];
        })(),
      );
    }
    if (cnt === 0) t.lap('publish');
    // one fenced statement (not a transaction of four round trips): it is on the way of every batch
    leader.assertEpoch(await markPublishedIfLeading(this.pool, cur.tick, leader.epoch));
    t.lap('mark');
    forwardedBatches.inc({ origin: this.cfg.origin });
    // capture → cut is told by the change's clock (ferry.clock: within a few ms of the wall clock)
    const stages: Record<string, number> = { captured_to_cut: Number.isFinite(oldestMs) ? Math.max(0, cur.createdAt.getTime() - oldestMs) : NaN, cut_to_taken: t.taken - t.origin, ...t.laps, cut_to_published: t.last - t.origin };
    for (const [stage, ms] of Object.entries(stages)) if (Number.isFinite(ms)) forwardStageSeconds.observe({ origin: this.cfg.origin, stage }, ms / 1000);
    log.debug({ tick: cur.tick, first, cnt, ms: stages }, 'published batch');
  }

  /** Gives the batch its positions, once: a re-publish after a crash reuses them. */
  private async stamp(prev: Tick, cur: Tick, leader: Leadership): Promise<{ first: number; cnt: number }> {
    if (cur.firstPos !== null && cur.cnt !== null) return { first: cur.firstPos, cnt: cur.cnt };
    if (prev.firstPos === null || prev.cnt === null) throw new FerryError(`tick ${prev.tick} has no positions yet; ticks are published in order`);
    const first = prev.firstPos + prev.cnt;
    // one fenced statement (it was a transaction of six round trips), on the way of every batch
    const r = await stampBatch(this.pool, prev, cur, first, leader.epoch);
    leader.assertEpoch(r.epoch);
    if (r.cnt !== null) return { first, cnt: r.cnt };
    // stamped meanwhile (by a forwarder that led before this one): its stamp stands
    const done = await stampOf(this.pool, cur.tick);
    if (!done) throw new FerryError(`tick ${cur.tick} could not be stamped and has no stamp`);
    return done;
  }
}

/** Wall-clock laps of one batch's way, from the moment its tick was cut. */
class StageClock {
  readonly taken = Date.now();
  last = this.taken;
  readonly laps: Record<string, number> = {};
  constructor(readonly origin: number) {}
  lap(stage: string): void {
    const now = Date.now();
    this.laps[stage] = now - this.last;
    this.last = now;
  }
  /** A part of the last lap, timed by the stage itself. */
  part(stage: string, ms: number): void {
    this.laps[stage] = ms;
  }
}

function sameVector(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function checkPositions(changes: Change[], expected: number): void {
  for (const c of changes) {
    if (c.pos !== expected) throw new FerryError(`batch positions are not dense: expected ${expected}, read ${c.pos}`);
    expected++;
  }
}

/** Test hook: FERRY_FAILPOINT=after-publish kills the process between publish and mark. */
function failpoint(name: string): void {
  if (process.env.FERRY_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
