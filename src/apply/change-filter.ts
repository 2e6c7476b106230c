import type { PoolClient } from 'pg';
import type { Logger } from '../common/logger';
import { Change, changeAsJson } from '../protocol/envelope';
import { copiedOf } from '../tables/bootstrap';
import { pendingSkips, recordSkipped } from '../tables/skips';
import { CopiedChanges } from './copied';
import { underNamesHere } from './renames';
import type { TableCatalog } from './table-info';

/**
 * Which of the changes taken are written, and under which names: those an operator asked to skip
 * are recorded in ferry.skips instead, those a bootstrap copy of this DC already holds are dropped,
 * and columns renamed here are named as they are now.
 */
export class ChangeFilter {
  private skips = new Set<number>();
  /** Changes a bootstrap copy of this DC already holds (dropped), while there can be any. */
  private copied?: CopiedChanges;

  constructor(
    private readonly origin: string,
    private readonly catalog: TableCatalog,
    private readonly log: Logger,
  ) {}

  /** Reads the pending skips and the bootstrap copy this DC started from. */
  async load(db: PoolClient, applied: number): Promise<void> {
    this.skips = await pendingSkips(db, this.origin);
    const c = await copiedOf(db, this.origin);
    if (c && c.until > applied) this.copied = new CopiedChanges(this.origin, c.source, c.until, c.tables);
  }

  /** Inside the destination transaction: records the skipped ones, returns the rest to write. */
  async pass(db: PoolClient, changes: Change[], applied: number): Promise<Change[]> {
    const skipped = changes.filter((c) => this.skips.has(c.pos));
    for (const c of skipped) {
      await recordSkipped(db, this.origin, c.pos, changeAsJson(c));
      this.log.warn({ pos: c.pos }, 'skipped a change as an operator asked (recorded in ferry.skips)');
    }
    let todo = skipped.length ? changes.filter((c) => !this.skips.has(c.pos)) : changes;
    if (this.copied) {
      if (this.copied.done(applied)) this.copied = undefined;
      else todo = todo.filter((c) => !this.copied!.holds(c));
    }
    return underNamesHere(this.catalog, todo);
  }
}
