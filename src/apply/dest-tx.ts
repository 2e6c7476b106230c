import { escapeLiteral, PoolClient } from 'pg';
import { FencedError, isRetriable, StreamError } from '../common/errors';
import type { Change } from '../protocol/envelope';
import { LocalWriteRace } from './local-write-race';

/**
 * The destination transaction of one origin's applier, as an explicit state machine (the way
 * kafkajs writes its transaction manager): each method says in which states it may be called, and
 * an illegal call fails at once instead of corrupting the applied position.
 *
 *   idle ──begin──► open | isolating ──commit──► committing ──► idle
 *                     │                              │
 *                     └──────────rollback────────────┴──► idle        fail ──► failed (final)
 *
 * `isolating` is a transaction opened to find the change at fault after a grouped one failed:
 * one change per statement and one source transaction per commit.
 */
export type TxState = 'idle' | 'open' | 'isolating' | 'committing' | 'failed';

const TRANSITIONS: Record<TxState, readonly TxState[]> = {
  idle: ['open', 'isolating', 'failed'],
  open: ['committing', 'idle', 'failed'],
  isolating: ['committing', 'idle', 'failed'],
  committing: ['idle', 'failed'],
  failed: [],
};

/** Writes changes, in order, inside the open transaction. */
export type ChangeWriter = (db: PoolClient, changes: Change[]) => Promise<void>;

/** What a rollback gives back: the changes to apply again, or null when there were too many to keep. */
export interface RolledBack {
  /** null: the transaction outgrew keepLimit; read the changes again from the applied position. */
  changes: Change[] | null;
  count: number;
  lastPos: number;
}

export class DestinationTransaction {
  private current: TxState = 'idle';
  /**
   * Every change taken into this transaction (what a rollback gives back) while there are at most
   * keepLimit: a huge source transaction is written as it streams in and not held whole (a
   * rollback then says to read it again).
   */
  private changes: Change[] = [];
  private whole = true;
  private count = 0;
  private lastPos = 0;
  /** Taken but not yet written (the bulk path writes many source transactions at once). */
  private pending: Change[] = [];
  /** The changes of the statement (or commit) in flight: what an error is about. */
  private inFlight: Change[] = [];

  constructor(
    private readonly db: PoolClient,
    private readonly origin: string,
    private readonly keepLimit = Number.POSITIVE_INFINITY,
  ) {}

  get state(): TxState {
    return this.current;
  }
  /** A transaction is open (a source transaction may be only partly written). */
  get isOpen(): boolean {
    return this.current === 'open' || this.current === 'isolating';
  }
  get isolating(): boolean {
    return this.current === 'isolating';
  }
  /** Changes taken since begin. */
  get size(): number {
    return this.count;
  }

  async begin(isolate: boolean): Promise<void> {
    this.expect('begin', ['idle']);
    // the destination's own capture triggers see ferry.origin and do not send the rows back. One
    // round trip for both (a simple query cannot take parameters: the DC id, which the config
    // allows only as [a-z0-9_-], is quoted by the driver)
    try {
      await this.db.query(`begin; select set_config('ferry.origin', ${escapeLiteral(this.origin)}, true)`);
    } catch (e) {
      await this.db.query('rollback').catch(() => undefined);
      throw e;
    }
    this.reset();
    this.to(isolate ? 'isolating' : 'open');
  }

  /** Takes changes into the transaction, to be written by the next flush (a rollback gives them back). */
  add(changes: Change[]): void {
    this.expect('add', ['open', 'isolating']);
    for (const c of changes) {
      this.pending.push(c);
      this.count++;
      this.lastPos = c.pos;
      if (!this.whole) continue;
      if (this.changes.length < this.keepLimit) this.changes.push(c);
      else {
        this.whole = false;
        this.changes = [];
      }
    }
  }

  /** Changes taken but not yet written. */
  get unwritten(): number {
    return this.pending.length;
  }

  /** Writes what was taken since the last flush. */
  async flush(writer: ChangeWriter): Promise<void> {
    this.expect('flush', ['open', 'isolating']);
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    this.inFlight = batch;
    await writer(this.db, batch);
  }

  /** Takes changes and writes them at once. */
  async write(changes: Change[], writer: ChangeWriter): Promise<void> {
    this.add(changes);
    await this.flush(writer);
  }

  /** Runs the bookkeeping of the commit (position, inbox) in the transaction, then commits; returns how many changes it held. */
  async commit(record: (db: PoolClient) => Promise<void>): Promise<number> {
    this.expect('commit', ['open', 'isolating']);
    if (this.pending.length) throw new Error(`DestinationTransaction.commit() with ${this.pending.length} change(s) not written: flush first`);
    this.to('committing');
    this.inFlight = this.changes;
    await record(this.db);
    await this.db.query('commit');
    const done = this.count;
    this.reset();
    this.to('idle');
    return done;
  }

  /** Rolls back whatever is open; gives back the changes it had taken, to be applied again. */
  async rollback(): Promise<RolledBack> {
    if (this.current === 'idle' || this.current === 'failed') return { changes: [], count: 0, lastPos: 0 };
    this.expect('rollback', ['open', 'isolating', 'committing']);
    await this.db.query('rollback').catch(() => undefined);
    const back: RolledBack = { changes: this.whole ? this.changes : null, count: this.count, lastPos: this.lastPos };
    this.reset();
    this.to('idle');
    return back;
  }

  /** Final: the stream stops (or the session ends); rolls back first. */
  async fail(): Promise<RolledBack> {
    const back = await this.rollback();
    this.to('failed');
    return back;
  }

  /** An error of the statement or commit in flight, said in terms of positions and tables. */
  explain(e: Error): StreamError {
    if (e instanceof StreamError) return e;
    const a = this.inFlight;
    const first = a[0]?.pos;
    const what =
      a.length === 1 ? `applying position ${first} (${a[0].op} ${a[0].table}${a[0].key ? ` ${a[0].key}` : ''})` : a.length ? `applying positions ${first}–${a[a.length - 1].pos}` : 'applying';
    const pg = e as Error & { code?: string; detail?: string };
    return new StreamError(`${what} failed: ${pg.message}${pg.detail ? ` (${pg.detail})` : ''}${pg.code ? ` [SQLSTATE ${pg.code}]` : ''}`, { origin: this.origin, pos: first });
  }

  /** The changes of the failed statement or commit. */
  get failedChanges(): Change[] {
    return this.inFlight;
  }

  private reset(): void {
    this.changes = [];
    this.pending = [];
    this.inFlight = [];
    this.whole = true;
    this.count = 0;
    this.lastPos = 0;
  }

  private expect(method: string, allowed: TxState[]): void {
    if (!allowed.includes(this.current)) {
      throw new Error(`DestinationTransaction.${method}() called in state ${this.current} (allowed: ${allowed.join(', ')})`);
    }
  }

  private to(next: TxState): void {
    if (!TRANSITIONS[this.current].includes(next)) throw new Error(`DestinationTransaction: illegal transition ${this.current} → ${next}`);
    this.current = next;
  }
}

/** What to do after a destination transaction failed and was rolled back. */
export type AfterFailure = { kind: 'fenced' } | { kind: 'retry' } | { kind: 'isolate'; to: number } | { kind: 'stop' };

/**
 * Decides from the error and the changes the transaction had written: another leader took over
 * (end the session), a retriable error (wait and try again), a failed group of several changes
 * not yet isolated (apply again change by change up to its last position, committing every source
 * transaction before the change at fault), or a change that cannot be applied (stop the stream).
 */
export function afterFailure(e: unknown, failed: { count: number; lastPos: number }, isolateTo: number, attempt = 1): AfterFailure {
  if (e instanceof FencedError) return { kind: 'fenced' };
  // the same race again and again (a trigger of this DC rewriting the rows, say): go one by one,
  // and if even that keeps failing, it is no race: stop and say so
  if (e instanceof LocalWriteRace && attempt > 3 && !isolateTo && failed.count > 1) return { kind: 'isolate', to: failed.lastPos };
  if (e instanceof LocalWriteRace && attempt > 20) return { kind: 'stop' };
  if (isRetriable(e)) return { kind: 'retry' };
  if (!isolateTo && failed.count > 1) return { kind: 'isolate', to: failed.lastPos };
  return { kind: 'stop' };
}
