import { Client, Pool, PoolClient } from 'pg';
import type { FerryConfig } from '../config/schema';
import { connect, createPool } from '../common/db';
import { FencedError, isRetriable, StreamError } from '../common/errors';
import type { Logger } from '../common/logger';
import { appliedChanges, applyErrors, applyLeader } from '../common/metrics';
import { sleep } from '../common/sleep';
import { Change, decodeFrame, Reassembler } from '../protocol/envelope';
import { stringifyExact } from '../protocol/json';
import type { Delivery, Subscriber } from '../transport/types';
import { ReorderBuffer } from './reorder-buffer';
import { applyChanges } from './row-sql';
import { readApplied, stopStream } from './state';
import { TableCatalog } from './table-info';

export const APPLY_LOCK_CLASS = 1179800154; // 'FRRZ': one applier per (this DC, origin)

interface Held {
  delivery: Delivery;
  maxPos: number;
  tick: number;
}

/**
 * Applies one origin's stream to this DC (DESIGN.md §3.4, §3.5): in position order, exactly once in
 * effect, each source transaction atomically, with the applied position recorded in the same
 * destination transaction. One process per (DC, origin) leads; others wait and take over.
 */
export class Applier {
  private pool: Pool;

  constructor(
    private readonly cfg: FerryConfig,
    private readonly origin: string,
    private readonly subscriber: () => Subscriber,
    private readonly log: Logger,
  ) {
    this.pool = createPool(cfg.database, { max: 2, application_name: `ferry-applier:${origin}` });
  }

  async run(stop: AbortSignal): Promise<void> {
    try {
      while (!stop.aborted) {
        let lead;
        try {
          lead = await this.acquire(stop);
        } catch (e) {
          if (!isRetriable(e)) throw e;
          this.log.warn({ err: e }, 'cannot reach the database to lead the applier; trying again');
          await sleep(2000, stop);
          continue;
        }
        if (!lead) break;
        const { client, epoch } = lead;
        const log = this.log.child({ epoch });
        applyLeader.set({ origin: this.origin }, 1);
        try {
          while (!stop.aborted) {
            const st = await readApplied(this.pool, this.origin);
            if (st.status === 'stopped' && st.errorKind !== 'gap') {
              // an operator must act (ferry resume / ferry skip); look again shortly
              await sleep(1000, stop);
              continue;
            }
            const session = new ApplySession(this.cfg, this.origin, this.pool, this.subscriber(), epoch, log);
            const ended = await session.run(stop, client);
            if (ended === 'fenced') break;
          }
        } catch (e) {
          if (!isRetriable(e)) throw e;
          log.warn({ err: e }, 'applier failed; will try again');
          await sleep(1000, stop);
        } finally {
          applyLeader.set({ origin: this.origin }, 0);
          await client.end().catch(() => undefined);
        }
      }
    } finally {
      await this.pool.end().catch(() => undefined);
    }
  }

  private async acquire(stop: AbortSignal): Promise<{ client: Client; epoch: number } | null> {
    let announced = false;
    while (!stop.aborted) {
      const client = await connect(this.cfg.database, { application_name: `ferry-applier:${this.origin}:${process.pid}` });
      try {
        const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as ok', [APPLY_LOCK_CLASS, this.origin]);
        if (r.rows[0].ok) {
          await client.query('insert into ferry.applied (origin) values ($1) on conflict do nothing', [this.origin]);
          const e = await client.query<{ epoch: string }>('update ferry.applied set epoch = epoch + 1 where origin = $1 returning epoch', [this.origin]);
          this.log.info('leading the applier for this origin');
          return { client, epoch: Number(e.rows[0].epoch) };
        }
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      await client.end().catch(() => undefined);
      if (!announced) this.log.info('another applier leads this origin here; standing by');
      announced = true;
      await sleep(1000, stop);
    }
    return null;
  }
}

type SessionEnd = 'stopped' | 'fenced' | 'error';

/** One run of the subscriber, from the stored position until stop or an error that needs an operator. */
class ApplySession {
  private buffer!: ReorderBuffer;
  private reassembler = new Reassembler();
  private held: Held[] = [];
  private applied = 0;
  private offset: string | null = null;
  private seen = 0;
  private client?: PoolClient;
  private txOpen = false;
  private txChanges: Change[] = [];
  private skips = new Set<number>();
  /**
   * Set after a group of changes failed for a reason retrying cannot fix: until this position is
   * applied, one change per statement and a commit per source transaction, so every source
   * transaction before the change at fault is kept and the error names that very change.
   */
  private isolateTo = 0;
  /** The changes of the statement(s) being run, or of the transaction being committed: what an error is about. */
  private attempt: Change[] = [];
  private catalog!: TableCatalog;
  private gapSince = 0;
  private failure?: { error: Error; end: SessionEnd };
  private done!: () => void;
  private readonly finished = new Promise<void>((r) => (this.done = r));
  private busy: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    private readonly cfg: FerryConfig,
    private readonly origin: string,
    private readonly pool: Pool,
    private readonly sub: Subscriber,
    private readonly epoch: number,
    private readonly log: Logger,
  ) {}

  async run(stop: AbortSignal, control: Client): Promise<SessionEnd> {
    const st = await readApplied(this.pool, this.origin);
    this.applied = st.pos;
    this.seen = st.seenPos;
    this.offset = st.offset;
    this.buffer = new ReorderBuffer(this.applied, this.cfg.apply.bufferChanges);
    const client = await this.pool.connect();
    this.client = client;
    const onStop = () => {
      this.stopping = true;
      this.done();
    };
    // a lost connection ends the session (retried by the caller), it does not crash the process
    const onLost = (err: Error) => {
      this.log.warn({ err }, 'database connection lost; the applier starts over from the applied position');
      onStop();
    };
    stop.addEventListener('abort', onStop, { once: true });
    control.on('error', onLost);
    client.on('error', onLost);
    let gapTimer: NodeJS.Timeout | undefined;
    try {
      this.catalog = new TableCatalog(client, this.origin);
      this.skips = new Set((await client.query<{ pos: string }>('select pos from ferry.skips where origin = $1 and applied_at is null', [this.origin])).rows.map((r) => Number(r.pos)));
      await this.loadInbox();
      gapTimer = setInterval(() => void this.serial(() => this.checkGap()).catch((err) => this.log.warn({ err }, 'gap check failed')), 250);
      await this.sub.start((batch) => this.handle(batch), st.offset ?? undefined);
      this.log.info({ applied: this.applied }, 'applying');
      await this.finished;
    } finally {
      this.stopping = true;
      clearInterval(gapTimer);
      stop.removeEventListener('abort', onStop);
      control.off('error', onLost);
      client.off('error', onLost);
      await this.sub.stop().catch(() => undefined);
      await this.busy.catch(() => undefined);
      if (this.txOpen) await client.query('rollback').catch(() => undefined);
      client.release();
    }
    if (this.failure) {
      if (this.failure.end === 'fenced') this.log.warn(this.failure.error.message);
      return this.failure.end;
    }
    return 'stopped';
  }

  /** Everything that touches the destination runs one at a time. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.busy.then(fn, fn);
    this.busy = next.catch(() => undefined);
    return next;
  }

  private async handle(batch: Delivery[]): Promise<void> {
    if (this.failure) return;
    await this.serial(async () => {
      for (const d of batch) {
        let frame;
        let maxPos: number;
        try {
          frame = decodeFrame(d.body, { origin: this.origin });
          if (frame.origin !== this.origin) throw new StreamError(`frame of origin ${frame.origin} arrived on the stream of ${this.origin}`, { origin: this.origin, tick: frame.tick });
          // a chunk that does not fit its siblings is as malformed as bad JSON: stop, do not loop
          maxPos = this.absorb(frame);
        } catch (e) {
          return this.fail(e as Error);
        }
        this.seen = Math.max(this.seen, maxPos);
        this.held.push({ delivery: d, maxPos, tick: frame.tick });
      }
      await this.drain();
      await this.spillIfStalled();
    });
    // backpressure: a full buffer waiting on a gap stops the intake until the gap is handled
    while (!this.failure && !this.stopping && this.buffer.full() && this.buffer.waitingForGap()) await sleep(100);
  }

  /** Frames kept in ferry.inbox by an earlier session: already acked, not yet applied. */
  private async loadInbox(): Promise<void> {
    const r = await this.pool.query<{ body: string }>('select body from ferry.inbox where origin = $1 and max_pos > $2 order by max_pos', [this.origin, this.applied]);
    for (const { body } of r.rows) this.absorb(decodeFrame(body, { origin: this.origin }));
  }

  private absorb(frame: ReturnType<typeof decodeFrame>): number {
    if (frame.chunk) {
      if (frame.chunk.pos > this.applied) {
        const c = this.reassembler.add(frame);
        if (c) this.buffer.add([c], frame.tick);
      }
      return frame.chunk.pos;
    }
    this.buffer.add(frame.changes, frame.tick);
    return frame.changes[frame.changes.length - 1].pos;
  }

  /**
   * Waiting on the transport: later positions are held but the next is missing, a source
   * transaction was begun and the rest of it has not come, or a change is only partly reassembled.
   */
  private waiting(): boolean {
    return this.buffer.waitingForGap() || (this.txOpen && this.buffer.size === 0) || this.reassembler.pendingCount > 0;
  }

  /**
   * SQS only: while the applier waits (a gap, or the rest of a source transaction) with messages
   * unacknowledged, the FIFO group delivers nothing more. The waiting frames are written to
   * ferry.inbox and acked, so the stream can move on; they leave the inbox when applied.
   */
  private async spillIfStalled(): Promise<void> {
    if (this.sub.kind !== 'sqs' || this.failure) return;
    const waiting = this.waiting();
    const pending = this.held.filter((h) => h.maxPos > this.applied);
    if (!waiting || !pending.length || this.buffer.full()) return;
    await this.pool.query(
      'insert into ferry.inbox (origin, max_pos, body) select $1, m, b from unnest($2::bigint[], $3::text[]) as x(m, b)',
      [this.origin, pending.map((h) => h.maxPos), pending.map((h) => h.delivery.body)],
    );
    const all = this.held;
    this.held = [];
    await this.ack(all.map((h) => h.delivery));
  }

  private async drain(): Promise<void> {
    if (this.failure || this.stopping) return;
    try {
      for (;;) {
        const changes = this.buffer.take(this.isolateTo ? 1 : 2000);
        if (!changes.length) break;
        this.gapSince = 0;
        // recorded before anything can fail, so a rollback always puts them back
        if (!this.txOpen) this.txChanges = [];
        this.txChanges.push(...changes);
        if (!this.txOpen) {
          this.txOpen = true;
          await this.client!.query('begin');
          // the destination's own capture triggers see this and do not send the rows back
          await this.client!.query(`select set_config('ferry.origin', $1, true)`, [this.origin]);
        }
        const skipped = changes.filter((c) => this.skips.has(c.pos));
        for (const c of skipped) {
          await this.client!.query('update ferry.skips set applied_at = now(), change = $3::jsonb where origin = $1 and pos = $2', [this.origin, c.pos, stringifyExact(c)]);
          this.log.warn({ pos: c.pos }, 'skipped a change as an operator asked (recorded in ferry.skips)');
        }
        this.attempt = changes;
        await applyChanges(this.client!, this.catalog, this.origin, skipped.length ? changes.filter((c) => !this.skips.has(c.pos)) : changes);
        const last = changes[changes.length - 1];
        if (last.txEnd && (this.isolateTo || this.txChanges.length >= this.cfg.apply.groupChanges || !this.buffer.size || this.buffer.waitingForGap())) {
          this.attempt = this.txChanges;
          await this.commit(last);
        }
      }
    } catch (e) {
      await this.rollback();
      if (e instanceof FencedError) return this.fail(e, 'fenced');
      if (isRetriable(e)) {
        this.log.warn({ err: e }, 'apply failed; retrying');
        applyErrors.inc({ origin: this.origin, kind: 'retriable' });
        await sleep(500);
        return this.drain();
      }
      const failed = this.lastFailed ?? [];
      if (!this.isolateTo && failed.length > 1) {
        // several source transactions (or changes) went in one statement or transaction: find the
        // change at fault, and apply every source transaction before it
        this.isolateTo = failed[failed.length - 1].pos;
        this.log.warn({ from: failed[0].pos, to: this.isolateTo, err: (e as Error).message }, 'applying a group failed; applying it change by change to find the change at fault');
        return this.drain();
      }
      return this.fail(this.explain(e as Error));
    }
  }

  private explain(e: Error): Error {
    if (e instanceof StreamError) return e;
    const a = this.attempt;
    const first = a[0]?.pos;
    const last = a[a.length - 1]?.pos;
    const what = a.length === 1 ? `applying position ${first} (${a[0].op} ${a[0].table} ${stringifyExact(a[0].key)})` : `applying positions ${first}–${last}`;
    const pg = e as Error & { code?: string; detail?: string };
    return new StreamError(`${what} failed: ${pg.message}${pg.detail ? ` (${pg.detail})` : ''}${pg.code ? ` [SQLSTATE ${pg.code}]` : ''}`, { origin: this.origin, pos: first });
  }
  private lastFailed?: Change[];

  private async rollback(): Promise<void> {
    if (!this.txOpen) return;
    this.txOpen = false;
    await this.client!.query('rollback').catch(() => undefined);
    this.lastFailed = this.txChanges;
    this.buffer.restore(this.txChanges, this.applied);
    this.txChanges = [];
  }

  private async commit(last: Change): Promise<void> {
    // the transport position stored is that of the longest run of messages now wholly applied
    let n = 0;
    while (n < this.held.length && this.held[n].maxPos <= last.pos) n++;
    const done = this.held.slice(0, n);
    const offset = done.length && done[done.length - 1].delivery.offset !== undefined ? done[done.length - 1].delivery.offset! : this.offset;
    const tick = done.length ? done[done.length - 1].tick : null;
    const r = await this.client!.query(
      `update ferry.applied set pos = $2, tick = coalesce($3, tick), transport_offset = $4, source_at = $5, applied_at = clock_timestamp(),
              seen_pos = greatest(seen_pos, $6), seen_at = clock_timestamp(), status = 'running', error = null, error_pos = null, error_at = null
        where origin = $1 and epoch = $7`,
      [this.origin, last.pos, tick, offset, last.at, this.seen, this.epoch],
    );
    if (r.rowCount !== 1) throw new FencedError(`applier epoch ${this.epoch} for origin ${this.origin} was superseded: another applier leads now`);
    await this.client!.query('delete from ferry.inbox where origin = $1 and max_pos <= $2', [this.origin, last.pos]);
    await this.client!.query('commit');
    this.txOpen = false;
    appliedChanges.inc({ origin: this.origin }, this.txChanges.length);
    this.txChanges = [];
    this.applied = last.pos;
    if (this.isolateTo && this.applied >= this.isolateTo) this.isolateTo = 0;
    this.offset = offset;
    this.held = this.held.slice(n);
    this.reassembler.forgetUpTo(this.applied);
    if (done.length) await this.ack(done.map((h) => h.delivery));
  }

  /**
   * Lets the transport forget applied messages. The rows are committed already, so a failure here
   * is no apply error: for SQS the undeleted messages would block the FIFO group, so the session
   * re-reads from the applied position (they come back and are dropped as duplicates).
   */
  private async ack(deliveries: Delivery[]): Promise<void> {
    try {
      await this.sub.ack(deliveries);
    } catch (err) {
      this.log.warn({ err }, 'the transport did not take the acknowledgement; re-reading from the applied position');
      if (this.sub.kind === 'sqs') await this.reread();
    }
  }

  /** Drops everything held and reads again from the last applied position. */
  private async reread(): Promise<void> {
    await this.rollback();
    this.buffer.clear();
    this.reassembler = new Reassembler();
    this.held = [];
    this.gapSince = 0;
    await this.sub.rewind();
    await this.loadInbox();
  }

  private async checkGap(): Promise<void> {
    if (this.failure) return;
    // duplicates of applied messages (a re-publish) are let go at once
    if (this.held.length && this.held[0].maxPos <= this.applied && !this.txOpen) {
      let n = 0;
      while (n < this.held.length && this.held[n].maxPos <= this.applied) n++;
      const done = this.held.splice(0, n);
      await this.ack(done.map((h) => h.delivery));
    }
    // waiting: later positions are held but the next is missing, or a source transaction was
    // begun and the rest of it has not come
    const waiting = this.waiting();
    if (!waiting) {
      this.gapSince = 0;
      return;
    }
    if (!this.gapSince) {
      this.gapSince = Date.now();
      return;
    }
    const waited = Date.now() - this.gapSince;
    if (waited < this.cfg.apply.gapTimeoutMs) return;
    const next = this.buffer.firstHeld();
    const err = new StreamError(
      `gap: position ${this.buffer.nextPos}${await this.gapTicks(next)} has not arrived after ${Math.round(waited / 1000)} s while later ones did${next ? ` (holding from ${next.pos})` : ''}; nothing past it is applied. Re-reading from the last applied position`,
      { origin: this.origin, pos: this.buffer.nextPos },
    );
    this.log.error(err.message);
    applyErrors.inc({ origin: this.origin, kind: 'gap' });
    await stopStream(this.pool, this.origin, err, this.buffer.nextPos, 'gap');
    // drop what is held and read it again: a lost message may still come, a reordered one surely will
    await this.reread();
  }

  /**
   * Where the missing position lies, in the origin's ticks: after the last applied change's tick
   * and no later than the tick of the first change held after the gap (' of tick 7' when both
   * agree, ' of tick 6..7' otherwise; '' when not known).
   */
  private async gapTicks(next: Change | undefined): Promise<string> {
    const upper = next ? this.buffer.tickOf(next.pos) : undefined;
    if (upper === undefined) return '';
    const r = await this.pool.query<{ tick: string | null }>('select tick from ferry.applied where origin = $1', [this.origin]);
    const lower = r.rows[0]?.tick == null ? undefined : Number(r.rows[0].tick);
    return lower === undefined || lower >= upper ? ` of tick ${upper}` : ` of tick ${lower}..${upper}`;
  }

  private async fail(e: Error, end: SessionEnd = 'error'): Promise<void> {
    if (this.failure) return;
    this.failure = { error: e, end };
    await this.rollback();
    if (end === 'error') {
      this.log.error(e.message + ' — the stream of this origin is stopped; fix the cause and run `ferry resume`, or `ferry skip` the change');
      applyErrors.inc({ origin: this.origin, kind: 'stopped' });
      await stopStream(this.pool, this.origin, e, (e as StreamError).where?.pos ?? this.buffer.nextPos, 'error').catch((err) => this.log.error({ err }, 'could not record the error'));
    }
    this.done();
  }
}
