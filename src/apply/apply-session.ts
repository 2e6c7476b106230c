import type { Pool, PoolClient } from 'pg';
import type { FerryConfig } from '../config/schema';
import { isSchemaRefusal, SchemaMismatch, StreamError } from '../common/errors';
import type { Leadership } from '../common/leadership';
import type { Logger } from '../common/logger';
import { appliedChanges, applyErrors } from '../common/metrics';
import { backoff } from '../common/retry';
import { sleep } from '../common/sleep';
import type { Change } from '../protocol/envelope';
import { adoptLineage, readApplied, recordApplied, recordPeerSeen, stopStream } from '../tables/applied';
import { removeFromInbox } from '../tables/inbox';
import type { Delivery, Subscriber } from '../transport/types';
import { ChangeFilter } from './change-filter';
import { Deliveries } from './deliveries';
import { afterFailure, DestinationTransaction } from './dest-tx';
import { GapWatch, gapMessage } from './gap-watch';
import { IntakeLedger } from './intake';
import { LineageRefused } from './lineage-gate';
import { intakeWait } from './backpressure';
import { GroupWriter } from './group-writer';
import { recordStop } from './stream-stop';
import { groupContext } from './policy';
import { ApplyStages } from './stages';
import { TableCatalog } from './table-info';

export type SessionEnd = 'stopped' | 'fenced' | 'error';

/** Changes taken from the ledger per statement in grouped mode. */
const TAKE = 2000;

/**
 * One run of the subscriber for one origin, from the applied position until stopped, fenced, or an
 * error that needs an operator. It wires the parts: the subscriber feeds the intake ledger, ready
 * changes go through the destination transaction, commits let the ledger release deliveries to be
 * acknowledged, and the gap watch re-reads when the stream waits too long. Everything that touches
 * the destination runs one step at a time (serial()).
 */
export class ApplySession {
  private ledger!: IntakeLedger;
  private tx!: DestinationTransaction;
  private catalog!: TableCatalog;
  private filter!: ChangeFilter;
  private io!: Deliveries;
  private failure?: { error: Error; end: SessionEnd };
  private end!: () => void;
  private readonly ended = new Promise<void>((r) => (this.end = r));
  private busy: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly gaps: GapWatch;
  /** How far ahead of this DC's clock the origin's newest change applied was stamped. */
  private aheadMs = 0;
  private readonly stages: ApplyStages;

  constructor(
    private readonly cfg: FerryConfig,
    private readonly origin: string,
    private readonly pool: Pool,
    private readonly sub: Subscriber,
    private readonly leader: Leadership,
    private readonly log: Logger,
  ) {
    this.gaps = new GapWatch(cfg.apply.gapTimeoutMs);
    this.stages = new ApplyStages(origin);
  }

  async run(signal: AbortSignal): Promise<SessionEnd> {
    const st = await readApplied(this.pool, this.origin);
    this.ledger = new IntakeLedger(this.origin, { applied: st.pos, offset: st.offset, seen: st.seenPos }, this.cfg.apply.bufferChanges, this.sub.blocksWhileUnacked, st.lineage);
    const client = await this.pool.connect();
    // a source transaction larger than this is written as it streams in, not held whole
    this.tx = new DestinationTransaction(client, this.origin, Math.max(4 * this.cfg.apply.groupChanges, 20_000));
    this.io = new Deliveries(this.origin, this.pool, this.sub, this.ledger, this.log, async () => {
      await this.tx.rollback();
      this.gaps.reset();
    });
    let lost: Error | undefined;
    const onStop = () => {
      this.stopping = true;
      this.end();
    };
    // a lost connection ends the session (the caller starts another), it does not crash the process
    const onLost = (err: Error) => {
      lost = err;
      this.log.warn({ err }, 'database connection lost; the applier starts over from the applied position');
      onStop();
    };
    signal.addEventListener('abort', onStop, { once: true });
    client.on('error', onLost);
    try {
      this.catalog = new TableCatalog(client, this.origin);
      this.filter = new ChangeFilter(this.origin, this.catalog, this.log);
      await this.filter.load(client, this.ledger.applied);
      await this.io.loadInbox();
      this.gaps.start(() => void this.serial(() => this.checkGap()).catch((err) => this.log.warn({ err }, 'gap check failed')));
      await this.sub.start((batch) => this.handle(batch), st.offset ?? undefined);
      this.log.info({ applied: this.ledger.applied }, 'applying');
      if (signal.aborted) onStop();
      await this.ended;
    } finally {
      this.stopping = true;
      this.gaps.stop();
      signal.removeEventListener('abort', onStop);
      await this.sub.stop().catch(() => undefined);
      await this.busy.catch(() => undefined);
      await this.tx.rollback().catch(() => undefined);
      client.off('error', onLost);
      client.release(lost);
    }
    if (this.failure?.end === 'fenced') this.log.warn(this.failure.error.message);
    return this.failure?.end ?? 'stopped';
  }

  /** Everything that touches the destination runs one at a time. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.busy.then(fn, fn);
    this.busy = next.catch(() => undefined);
    return next;
  }

  /**
   * Takes a delivered batch: decodes it at once (a malformed frame stops the stream before anything
   * after it is taken), then applies in the background, so the transport fetches the next batch
   * while this one is written. It waits while a group's worth is held (backpressure.ts), and for the
   * whole apply on a transport that delivers nothing more until it gets acknowledgements.
   */
  private async handle(batch: Delivery[]): Promise<void> {
    if (this.failure) return;
    const delivered = Date.now();
    let at: string | undefined;
    // the ledger is plain memory: taking deliveries may interleave with an apply in progress
    for (const d of batch) {
      try {
        const f = this.ledger.receive(d);
        at = f.at;
        const firstPos = f.changes[0]?.pos ?? f.chunk?.pos;
        if (firstPos !== undefined && firstPos > this.ledger.applied) this.stages.delivered(firstPos, delivered);
      } catch (e) {
        return this.serial(() => this.fail(e as Error));
      }
    }
    if (at) this.stages.observe('tick_to_delivered', delivered - Date.parse(at));
    const adopted = this.ledger.takeAdoptedLineage();
    const applying = this.serial(async () => {
      if (adopted) {
        await adoptLineage(this.pool, this.origin, adopted);
        this.log.info({ lineage: adopted.id }, `recorded the lineage of ${this.origin} (the first one seen)`);
      }
      await this.drain();
      if (!this.failure) await this.io.spillIfStalled(this.tx.isOpen);
    });
    applying.catch((err) => this.log.warn({ err }, 'applying failed'));
    await intakeWait(
      this.ledger,
      { blocksWhileUnacked: this.sub.blocksWhileUnacked, groupChanges: this.cfg.apply.groupChanges, txOpen: () => this.tx.isOpen, going: () => !this.failure && !this.stopping },
      applying,
    );
  }

  /**
   * Applies what is ready. A failure rolls back and puts the changes back; what happens next is
   * decided here, with the attempt count and the last failure as values: a retriable error waits
   * and tries again, a grouped transaction that failed is applied again change by change up to its
   * last position (so every source transaction before the change at fault is kept and the error
   * names that change), and anything else stops the stream.
   */
  private async drain(): Promise<void> {
    let isolateTo = 0;
    for (let attempt = 1; !this.failure && !this.stopping; attempt++) {
      try {
        await this.applyReady(isolateTo);
        return;
      } catch (e) {
        // named while the transaction still knows the changes in flight (a rollback forgets them)
        const why = this.tx.explain(e as Error);
        const failed = await this.tx.rollback();
        if (failed.changes) this.ledger.putBack(failed.changes);
        else await this.readAgain();
        const step = afterFailure(e, failed, isolateTo, attempt);
        if (step.kind === 'fenced') return this.fail(e as Error, 'fenced');
        if (step.kind === 'retry') {
          const wait = backoff(attempt);
          this.log.warn({ err: e }, `apply failed; retrying in ${wait} ms`);
          applyErrors.inc({ origin: this.origin, kind: 'retriable' });
          await sleep(wait);
          continue;
        }
        if (step.kind === 'isolate') {
          isolateTo = step.to;
          this.log.warn({ from: failed.lastPos - failed.count + 1, to: isolateTo, err: (e as Error).message }, 'applying a group failed; applying it change by change to find the change at fault');
          continue;
        }
        // a schema here that does not take the change yet stops the stream until it does
        if (e instanceof SchemaMismatch) return this.fail(e, 'error', 'schema');
        if (isSchemaRefusal(e)) {
          const x = why;
          const hint = ` — this DC's table refused the value: if its schema differs from ${this.origin}'s (application DDL done in one DC first), make it match (docs/operations.md); the stream tries again by itself every few seconds`;
          return this.fail(new SchemaMismatch(x.message.replace(/ \(origin [^)]*\)$/, '') + hint, x.where), 'error', 'schema');
        }
        return this.fail(why);
      }
    }
  }

  /**
   * Takes ready changes into the destination transaction and commits at source-transaction
   * boundaries. Grouped, they are written in bulk when the group is committed (or grows past
   * apply.groupChanges, as one huge source transaction does); isolating, one by one in origin order.
   */
  private async applyReady(isolateTo: number): Promise<void> {
    for (;;) {
      const isolate = isolateTo > this.ledger.applied;
      const changes = this.ledger.take(isolate ? 1 : TAKE);
      if (!changes.length) return;
      this.stages.taken(changes[changes.length - 1].pos);
      this.gaps.reset();
      if (!this.tx.isOpen) await this.tx.begin(isolate);
      this.tx.add(changes);
      const last = changes[changes.length - 1];
      const commit = last.txEnd && (this.tx.isolating || this.tx.size >= this.cfg.apply.groupChanges || !this.ledger.size || this.ledger.waiting(true) === 'gap');
      if (commit || this.tx.isolating || this.tx.unwritten >= this.cfg.apply.groupChanges) {
        const t0 = Date.now();
        await this.tx.flush((db, cs) => this.write(db, cs, this.tx.isolating));
        this.stages.observe('write', Date.now() - t0);
      }
      if (commit) await this.commit(last);
    }
  }

  /** Writes changes (those the filter lets through). */
  private async write(db: PoolClient, changes: Change[], inOrder: boolean): Promise<void> {
    const todo = await this.filter.pass(db, changes, this.ledger.applied);
    const w = new GroupWriter(db, groupContext(this.cfg, this.catalog, this.origin, this.log));
    if (inOrder) for (const c of todo) await w.write([c]);
    else await w.write(todo);
    this.aheadMs = w.aheadMs;
  }

  private async commit(last: Change): Promise<void> {
    const rel = this.ledger.releasable(last.pos);
    const t0 = Date.now();
    const n = await this.tx.commit(async (db) => {
      // the update locks the epoch's row as fence() does: a newer leader's epoch refuses this commit
      this.leader.assertEpoch(await recordApplied(db, this.origin, { pos: last.pos, tick: rel.tick, offset: rel.offset, sourceAt: last.at, seenPos: this.ledger.seen, peerSeen: rel.seen, aheadMs: this.aheadMs, snap: rel.snap }));
      if (this.io.inboxInUse) await removeFromInbox(db, this.origin, last.pos);
    });
    const done = Date.now();
    this.stages.observe('commit', done - t0);
    this.stages.observe('tick_to_committed', done - Date.parse(last.at));
    appliedChanges.inc({ origin: this.origin }, n);
    const released = this.ledger.applyCommitted(last.pos);
    if (released.ack.length) await this.io.ack(released.ack);
    this.stages.observe('ack', Date.now() - done);
  }

  /**
   * After the rollback of a transaction too large to hold (its changes were let go as they were
   * written): reads again from the applied position and waits, up to apply.gapTimeoutMs, until the
   * transport has brought the first changes back, so the retry (or isolation) goes on from there.
   */
  private async readAgain(): Promise<void> {
    await this.io.reread();
    const until = Date.now() + this.cfg.apply.gapTimeoutMs;
    while (!this.failure && !this.stopping && this.ledger.size === 0 && Date.now() < until) await sleep(20);
  }

  private async checkGap(): Promise<void> {
    if (this.failure) return;
    // duplicates of applied messages (a re-publish) are let go at once
    if (!this.tx.isOpen) {
      const dups = this.ledger.takeDuplicates();
      if (dups.seen || dups.snap) await recordPeerSeen(this.pool, this.origin, dups.seen ?? {}, dups.snap);
      if (dups.ack.length) await this.io.ack(dups.ack);
    }
    const why = this.ledger.waiting(this.tx.isOpen);
    const w = this.gaps.observe(why !== null);
    if (w.state !== 'timeout' || !why) return;
    const appliedTick = (await readApplied(this.pool, this.origin)).tick;
    const g = this.ledger.gap();
    const err = new StreamError(gapMessage({ kind: why, ...g, appliedTick, waitedMs: w.waitedMs }), { origin: this.origin, pos: g.nextPos });
    this.log.error(err.message);
    applyErrors.inc({ origin: this.origin, kind: 'gap' });
    await stopStream(this.pool, this.origin, err.message, g.nextPos, 'gap');
    // drop what is held and read it again: a lost message may still come, a reordered one surely will
    await this.io.reread();
  }

  private async fail(e: Error, end: SessionEnd = 'error', kind: 'error' | 'schema' = 'error'): Promise<void> {
    if (this.failure) return;
    this.failure = { error: e, end };
    await this.tx.fail();
    // (a lineage refusal is recorded whatever `end` says: the operator must accept it)
    if (end === 'error' || e instanceof LineageRefused) await recordStop(this.pool, this.origin, e, kind, this.ledger.nextPos, this.log);
    this.end();
  }
}
