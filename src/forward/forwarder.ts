import { Pool } from 'pg';
import type { FerryConfig } from '../config/schema';
import { createPool, inTransaction } from '../common/db';
import { FencedError, isRetriable } from '../common/errors';
import type { Logger } from '../common/logger';
import { forwardLeader, forwardedBatches, forwardedChanges, forwardedFrames } from '../common/metrics';
import { Signal, sleep } from '../common/sleep';
import { Change, EncodedFrame, encodeFrames } from '../protocol/envelope';
import type { Publisher } from '../transport/types';
import { countBatch, nextBatch, readBatch, Tick } from './batch-reader';
import { fence, Leadership } from './leader';
import { Pruner } from './pruner';
import { Ticker } from './ticker';

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
    this.pool = createPool(cfg.database, { max: 3, application_name: 'ferry-forwarder' });
  }

  /** Runs until stop aborts: stands by while another process leads, takes over when it can. */
  async run(stop: AbortSignal): Promise<void> {
    try {
      while (!stop.aborted) {
        let lead;
        try {
          lead = await Leadership.acquire(this.cfg.database, this.log, stop);
        } catch (e) {
          if (!isRetriable(e)) throw e;
          this.log.warn({ err: e }, 'cannot reach the database to lead the forwarder; trying again');
          await sleep(2000, stop);
          continue;
        }
        if (!lead) break;
        const log = this.log.child({ epoch: lead.epoch });
        log.info('leading the forwarder for this origin');
        forwardLeader.set({ origin: this.cfg.origin }, 1);
        const session = new AbortController();
        const end = () => session.abort();
        stop.addEventListener('abort', end, { once: true });
        lead.lost.signal.addEventListener('abort', end, { once: true });
        try {
          await this.lead(lead, session.signal, log);
        } catch (e) {
          if (e instanceof FencedError) log.warn(e.message);
          else if (isRetriable(e)) log.warn({ err: e }, 'forwarder failed; will try to lead again');
          else throw e;
          await sleep(1000, stop);
        } finally {
          forwardLeader.set({ origin: this.cfg.origin }, 0);
          stop.removeEventListener('abort', end);
          await this.publisher.stop().catch(() => undefined);
          await lead.release();
        }
      }
    } finally {
      await this.pool.end().catch(() => undefined);
    }
  }

  private async lead(lead: Leadership, stop: AbortSignal, log: Logger): Promise<void> {
    await this.publisher.start();
    const ticked = new Signal();
    const ticker = new Ticker(this.pool, lead.client, this.cfg.forward, log, () => ticked.notify());
    const pruner = new Pruner(this.pool, this.cfg.forward, log);
    // the ticker runs beside the publishing loop so large backlogs are still cut into bounded batches
    // a ticker failure (a lost connection) ends this leadership; it is rethrown below, once
    let tickerError: unknown;
    const tickerDone = ticker.run(stop).catch((e) => {
      tickerError = e;
      ticked.notify();
    });
    try {
      while (!stop.aborted && tickerError === undefined) {
        const next = await nextBatch(this.pool);
        if (!next) {
          await pruner.maybeRun();
          await ticked.wait(1000, stop);
          continue;
        }
        // a batch that has begun is finished (or abandoned by an error) before SIGTERM is honoured
        await this.forwardBatch(next.prev, next.cur, lead.epoch, log);
        await pruner.maybeRun();
      }
    } finally {
      ticker.stop();
      await tickerDone;
    }
    if (tickerError !== undefined) throw tickerError;
  }

  private async forwardBatch(prev: Tick, cur: Tick, epoch: number, log: Logger): Promise<void> {
    const { first, cnt } = await this.stamp(prev, cur, epoch);
    if (cnt > 0) {
      const client = await this.pool.connect();
      let seen = 0;
      let frames = 0;
      try {
        const { origin, forward, transport } = this.cfg;
        async function* groups(): AsyncGenerator<EncodedFrame[]> {
          for await (const changes of readBatch(client, prev, cur, first, forward.readChunk)) {
            checkPositions(changes, first + seen);
            seen += changes.length;
            const f = encodeFrames({ origin, epoch, tick: cur.tick }, changes, transport.maxFrameBytes);
            frames += f.length;
            yield f;
          }
          if (seen !== cnt) throw new Error(`tick ${cur.tick} was stamped with ${cnt} changes but ${seen} were read: the change table lost rows`);
        }
        await this.publisher.publish(cur.tick, groups());
      } finally {
        client.release();
      }
      failpoint('after-publish');
      forwardedChanges.inc({ origin: this.cfg.origin }, cnt);
      forwardedFrames.inc({ origin: this.cfg.origin }, frames);
      log.debug({ tick: cur.tick, first, cnt, frames }, 'published batch');
    }
    await this.markPublished(cur.tick, epoch);
    forwardedBatches.inc({ origin: this.cfg.origin });
  }

  /** Gives the batch its positions, once: a re-publish after a crash reuses them. */
  private async stamp(prev: Tick, cur: Tick, epoch: number): Promise<{ first: number; cnt: number }> {
    if (cur.firstPos !== null && cur.cnt !== null) return { first: cur.firstPos, cnt: cur.cnt };
    if (prev.firstPos === null || prev.cnt === null) throw new Error(`tick ${prev.tick} has no positions yet; ticks are published in order`);
    const client = await this.pool.connect();
    try {
      return await inTransaction(client, async () => {
        await fence(client, epoch);
        const r = await client.query<{ first_pos: string | null; cnt: string | null }>('select first_pos, cnt from ferry.ticks where tick = $1 for update', [cur.tick]);
        if (r.rows[0].first_pos !== null) return { first: Number(r.rows[0].first_pos), cnt: Number(r.rows[0].cnt) };
        const cnt = await countBatch(client, prev, cur);
        const first = prev.firstPos! + prev.cnt!;
        await client.query('update ferry.ticks set first_pos = $2, cnt = $3, epoch = $4 where tick = $1', [cur.tick, first, cnt, epoch]);
        return { first, cnt };
      });
    } finally {
      client.release();
    }
  }

  private async markPublished(tick: number, epoch: number): Promise<void> {
    const client = await this.pool.connect();
    try {
      await inTransaction(client, async () => {
        await fence(client, epoch);
        await client.query('update ferry.ticks set published_at = clock_timestamp() where tick = $1', [tick]);
      });
    } finally {
      client.release();
    }
  }
}

function checkPositions(changes: Change[], expected: number): void {
  for (const c of changes) {
    if (c.pos !== expected) throw new Error(`batch positions are not dense: expected ${expected}, read ${c.pos}`);
    expected++;
  }
}

/** Test hook: FERRY_FAILPOINT=after-publish kills the process between publish and mark. */
function failpoint(name: string): void {
  if (process.env.FERRY_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
