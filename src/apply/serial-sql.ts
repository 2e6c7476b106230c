import type { Queryable } from '../common/db';
import type { Change } from '../protocol/envelope';
import { TableCatalog } from './table-info';

/**
 * TRUNCATE, applied as the origin made it: the truncates of one statement (a multi-table or
 * CASCADE truncate fires one change per table, back to back) in ONE statement, since tables
 * linked by foreign keys can only be truncated together. A whole table that is partitioned is
 * truncated with its partitions (the origin did so, and ONLY is refused for it); any other table
 * ONLY, as its own change says. A partition named alone is truncated alone, unless its whole table
 * is truncated by the same statement.
 */
export async function applyTruncate(db: Queryable, catalog: TableCatalog, changes: Change[]): Promise<void> {
  const names = new Set<string>();
  const whole = new Set(changes.filter((c) => c.partition === undefined).map((c) => c.table));
  for (const c of changes) {
    const t = await catalog.get(c.table, { pos: c.pos });
    if (c.partition === undefined) names.add(t.partitioned ? t.sql : `only ${t.sql}`);
    else if (!whole.has(c.table)) {
      const p = await catalog.partition(t, c.partition, { pos: c.pos });
      names.add(p.partitioned ? p.sql : `only ${p.sql}`);
    }
  }
  await db.query(`truncate ${[...names].join(', ')}`);
}
