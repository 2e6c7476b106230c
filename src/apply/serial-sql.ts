import type { Queryable } from '../common/db';
import type { Change } from '../protocol/envelope';
import { TableCatalog } from './table-info';

/**
 * TRUNCATE, applied as the origin made it: one statement for consecutive truncates, as a
 * multi-table TRUNCATE was one statement at the origin.
 */
export async function applyTruncate(db: Queryable, catalog: TableCatalog, changes: Change[]): Promise<void> {
  const names = [];
  for (const c of changes) names.push((await catalog.get(c.table, { pos: c.pos })).sql);
  await db.query(`truncate only ${[...new Set(names)].join(', ')}`);
}
