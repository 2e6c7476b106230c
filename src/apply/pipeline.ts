import type { Queryable } from '../common/db';

const ignore = () => undefined;

/**
 * The destination connection, for statements the applier need not wait for one by one. The
 * connection is in the `pg` driver's pipeline mode (the applier's pool: applier.ts), so a statement
 * is on the wire as soon as it is issued and PostgreSQL runs it while the applier builds the next
 * ones, takes in results, or decodes what the transport brought meanwhile (in a catch-up, the
 * applier's own work between statements was about as long as PostgreSQL's).
 *
 * What stays as it was: the order of the statements (the driver keeps it), and which error a
 * failure reports. What `query` returns, and `drain`, settle only after every check `send`-ed
 * before them, and fail with the FIRST failure in that order — a later statement fails only because
 * the transaction is aborted by then, and says nothing.
 *
 * A function whose result is checked later is `send`-ed; one that issues a second statement after
 * the first one's result is awaited (its second statement would otherwise go after statements
 * issued later). Anything that uses the connection outside this object (the table catalog) waits
 * for `drain` first.
 */
export class Pipeline {
  /** Every check sent, in order: settles with the first failure. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly db: Queryable) {}

  /** Sends the statement; settles once every check before it has (failing with the first failure). */
  readonly query = ((...args: unknown[]) => {
    const result = (this.db.query as (...a: unknown[]) => Promise<unknown>).apply(this.db, args);
    // the statement's own failure goes to whoever awaits it, or through the check sent for it
    result.catch(ignore);
    return this.last.then(() => result);
  }) as Queryable['query'];

  /** Makes a check of statements already sent (a race noticed in a row count, say) a link of the chain. */
  send(check: Promise<unknown>): void {
    check.catch(ignore);
    const mine = this.last.then(() => check);
    mine.catch(ignore);
    this.last = mine;
  }

  /** Waits for every check sent; throws the first failure. */
  async drain(): Promise<void> {
    await this.last;
  }
}
