import type { Queryable } from '../common/db';
import { prepared, quoteIdent } from '../common/db';
import type { Change } from '../protocol/envelope';
import { keyMatch, keysParam, recordset, recordsetFn, rowsParam, valueOf, own } from './rows';
import type { TableInfo } from './table-info';

/**
 * The set-based statements of the bulk path, one table at a time. Rows found here are written
 * only if no local write touched them since they were read (their xmin is unchanged): a race with
 * the application is noticed, never papered over.
 */

/** A row of this DC that a change's key names: its xmin and ctid when read. */
export interface LocalRow {
  xmin: string;
  ctid: string;
}

/** For each key (by index), the row this DC holds now, if any. */
export async function readLocal(db: Queryable, t: TableInfo, keys: string[], keyTexts: string[]): Promise<Map<number, LocalRow>> {
  const cols = keys.map(quoteIdent).join(', ');
  const r = await db.query<{ ferry_n: string; xmin: string; ctid: string }>(
    `select x.${own(t, 'ferry_n')} as ferry_n, t.xmin::text as xmin, t.ctid::text as ctid
       from rows from (${recordsetFn(t, keys, '$1')}) with ordinality as x(${cols}, ${own(t, 'ferry_n')})
       join ${t.sql} t on ${keyMatch(keys)}`,
    [keysParam(keyTexts)],
  );
  return new Map(r.rows.map((x) => [Number(x.ferry_n) - 1, { xmin: x.xmin, ctid: x.ctid }]));
}

/** UPDATE of rows that exist; returns how many were updated (fewer: a local write came between). */
export async function updateRows(db: Queryable, t: TableInfo, keys: string[], write: string[], asText: Set<string>, changes: Change[], xmins: string[]): Promise<number> {
  const set = write.filter((k) => !keys.includes(k) && !t.identityAlways.has(k));
  if (!set.length) return changes.length; // a key-only row: nothing to change
  const cols = write.map(quoteIdent).join(', ');
  const r = await db.query(
    prepared(
      `update ${t.sql} t set ${set.map((k) => `${quoteIdent(k)} = ${valueOf(t, asText, k)}`).join(', ')}
         from rows from (${recordsetFn(t, write, '$1', asText)}, unnest($2::text[])) as x(${cols}, ${own(t, 'ferry_xmin')})
        where ${keyMatch(keys)} and t.xmin = x.${own(t, 'ferry_xmin')}::xid`,
      [rowsParam(changes, asText), xmins],
    ),
  );
  return r.rowCount ?? 0;
}

/** INSERT of rows that do not exist (a local insert in between fails on the key: the group is retried). */
export async function insertRows(db: Queryable, t: TableInfo, write: string[], asText: Set<string>, changes: Change[]): Promise<void> {
  const overriding = write.some((k) => t.identityAlways.has(k)) ? ' overriding system value' : '';
  await db.query(
    prepared(`insert into ${t.sql} (${write.map(quoteIdent).join(', ')})${overriding} select ${write.map((k) => valueOf(t, asText, k)).join(', ')} from ${recordset(t, write, '$1', 'x', asText)}`, [
      rowsParam(changes, asText),
    ]),
  );
}

/** DELETE of rows that exist; returns how many were deleted. */
export async function deleteRows(db: Queryable, t: TableInfo, keys: string[], keyTexts: string[], xmins: string[]): Promise<number> {
  const cols = keys.map(quoteIdent).join(', ');
  const r = await db.query(
    prepared(
      `delete from ${t.sql} t using rows from (${recordsetFn(t, keys, '$1')}, unnest($2::text[])) as x(${cols}, ${own(t, 'ferry_xmin')})
        where ${keyMatch(keys)} and t.xmin = x.${own(t, 'ferry_xmin')}::xid`,
      [keysParam(keyTexts), xmins],
    ),
  );
  return r.rowCount ?? 0;
}

/** A key change as an UPDATE of the key, of the row the old key names (if its xmin is unchanged). */
export async function updateKey(db: Queryable, t: TableInfo, keys: string[], write: string[], asText: Set<string>, c: Change, xmin: string): Promise<number> {
  const set = write.filter((k) => !t.identityAlways.has(k) || keys.includes(k));
  const r = await db.query(
    `update ${t.sql} t set ${set.map((k) => `${quoteIdent(k)} = ${valueOf(t, asText, k)}`).join(', ')}
       from ${recordset(t, write, '$1', 'x', asText)}, ${recordset(t, keys, '$2', 'o')}
      where ${keyMatch(keys, 't', 'o')} and t.xmin = $3::xid`,
    [rowsParam([c], asText), keysParam([c.old!]), xmin],
  );
  return r.rowCount ?? 0;
}
