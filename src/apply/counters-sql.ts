import type { Queryable } from '../common/db';
import { quoteIdent } from '../common/db';
import type { Change } from '../protocol/envelope';
import { keyMatch, keysParam, recordsetFn } from './rows';
import type { TableInfo } from './table-info';

/**
 * Counter columns (DESIGN.md §6): each DC's share is kept apart in ferry.counters and the column
 * holds their sum. A change carries its origin's share after it (and the value counting began with,
 * the first time), so applying it twice, or late, sets the same share: nothing is added twice.
 */

/** Takes the shares the changes carry; a share only moves forward in its origin's order. */
export async function takeShares(db: Queryable, t: TableInfo, origin: string, changes: Change[]): Promise<void> {
  const key: string[] = [];
  const col: string[] = [];
  const dc: string[] = [];
  const value: string[] = [];
  const seq: number[] = [];
  for (const c of changes) {
    for (const [k, shares] of Object.entries(c.counters ?? {})) {
      for (const [d, v] of Object.entries(shares)) {
        key.push(c.key!);
        col.push(k);
        // a change carries only its origin's share, and the starting value ('')
        dc.push(d === '' ? '' : origin);
        value.push(v);
        seq.push(d === '' ? 0 : c.id);
      }
    }
  }
  if (!key.length) return;
  await db.query(
    `insert into ferry.counters as s (tbl, key, col, dc, value, seq)
     select $1, k, c, d, v, q from unnest($2::text[], $3::text[], $4::text[], $5::numeric[], $6::bigint[]) as x(k, c, d, v, q)
     on conflict (tbl, key, col, dc) do update set value = excluded.value, seq = excluded.seq
      where s.dc <> '' and s.seq < excluded.seq`,
    [t.oid, key, col, dc, value, seq],
  );
}

/** A row that is gone takes its shares with it. */
export async function dropShares(db: Queryable, t: TableInfo, keyTexts: string[]): Promise<void> {
  if (!keyTexts.length) return;
  await db.query('delete from ferry.counters where tbl = $1 and key = any($2::text[])', [t.oid, keyTexts]);
}

/** Sets each counter column of these rows to the sum of its shares here. */
export async function applySums(db: Queryable, t: TableInfo, keys: string[], keyTexts: string[], cols: string[]): Promise<void> {
  if (!keyTexts.length || !cols.length) return;
  const kc = keys.map(quoteIdent).join(', ');
  const set = cols
    .map((c) => `${quoteIdent(c)} = coalesce((select sum(s.value) from ferry.counters s where s.tbl = $3 and s.key = x.ferry_key and s.col = ${`'${c.replace(/'/g, "''")}'`}), t.${quoteIdent(c)})`)
    .join(', ');
  await db.query(`update ${t.sql} t set ${set} from rows from (${recordsetFn(t, keys, '$1')}, unnest($2::text[])) as x(${kc}, ferry_key) where ${keyMatch(keys)}`, [
    keysParam(keyTexts),
    keyTexts,
    t.oid,
  ]);
}
