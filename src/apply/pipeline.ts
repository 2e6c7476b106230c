import type { QueryResult } from 'pg';
import type { Queryable } from '../common/db';

const ignore = () => undefined;

type Callback = (err: Error | null, res: QueryResult) => void;
type RawQuery = (config: unknown, values: unknown, cb?: Callback) => void;

/**
 * The destination connection, for statements the applier need not wait for one by one, so
 * PostgreSQL runs them while the applier builds the next ones, takes in results, or decodes what
 * the transport brought meanwhile (in a catch-up, the applier's own work between statements was
 * about as long as PostgreSQL's). On a connection in the driver's pipeline mode (the applier's:
 * applier.ts) each statement is sent at once; on any other, it is queued here and sent the moment
 * the one before it has finished, before the applier takes in that one's result.
 *
 * What stays as it was: the order of the statements, and which error a failure reports. After a
 * statement fails nothing more is sent (the transaction is aborted: a later statement could only
 * fail saying so); what `query` returns, and `drain`, settle only after everything queued before
 * them and every check `send`-ed before them, and fail with the FIRST failure in that order.
 *
 * A function whose result is checked later is `send`-ed; one that issues a second statement after
 * the first one's result is awaited (its second statement would otherwise go after statements
 * queued later). Nothing else may use the connection until `drain` has settled.
 */
export class Pipeline {
  /** Statements queued while one runs, each a function that sends it. */
  private readonly queue: (() => void)[] = [];
  private running = 0;
  /** The connection pipelines: nothing waits here. */
  private readonly atOnce: boolean;
  /** The first statement's failure: nothing is sent after it. */
  private failed: Error | null = null;
  /** Every statement and check, in order: settles with the first failure. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly db: Queryable) {
    this.atOnce = (db as { pipeline?: boolean }).pipeline === true;
  }

  /** Queues the statement; settles once everything before it has (failing with the first failure). */
  readonly query = ((config: unknown, values?: unknown) => {
    const result = new Promise<QueryResult>((resolve, reject) => {
      const send = () => {
        if (this.failed) {
          reject(this.failed);
          return this.next();
        }
        this.running++;
        const done: Callback = (err, res) => {
          this.running--;
          if (err) this.failed ??= err;
          // the next statement goes out before anyone takes in this result
          this.next();
          if (err) reject(err);
          else resolve(res);
        };
        const raw = this.db.query as unknown as RawQuery;
        if (values === undefined) raw.call(this.db, config, done);
        else raw.call(this.db, config, values, done);
      };
      if (this.running && !this.atOnce) this.queue.push(send);
      else send();
    });
    // the statement's own failure goes to whoever awaits it, or through the check sent for it
    result.catch(ignore);
    return this.last.then(() => result);
  }) as unknown as Queryable['query'];

  /** Makes a check of statements already queued (a race noticed in a row count, say) a link of the chain. */
  send(check: Promise<unknown>): void {
    check.catch(ignore);
    const mine = this.last.then(() => check);
    mine.catch(ignore);
    this.last = mine;
  }

  /** Waits for everything queued and sent; throws the first failure. */
  async drain(): Promise<void> {
    await this.last;
  }

  private next(): void {
    this.queue.shift()?.();
  }
}
