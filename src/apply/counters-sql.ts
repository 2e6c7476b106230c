import type { Queryable } from '../common/db';
import { quoteIdent } from '../common/db';
import type { Change } from '../protocol/envelope';
import { keyMatch, keysParam, recordsetFn, own } from './rows';
import type { TableInfo } from './table-info';

/**
 * Counter columns (DESIGN.md §6): each DC's share is kept apart in ferry.counters and the column
 * holds their sum. A change carries its origin's share after it (and the value counting began with,
 * the first time), so applying it twice, or late, sets the same share: nothing is added twice. A
 * delete resets the counter: shares of older changes stop counting (ferry.counter_resets), whatever
 * order the changes arrive in. The model of this is in test/unit/merge.test.ts.
 */

/** Takes the shares the changes carry: newer than the last reset, and than the share they replace. */
export async function takeShares(db: Queryable, t: TableInfo, origin: string, changes: Change[]): Promise<void> {
  const key: string[] = [];
  const col: string[] = [];
  const dc: string[] = [];
  const value: string[] = [];
  const ms: number[] = [];
  const seq: number[] = [];
  for (const c of changes) {
    for (const [k, shares] of Object.entries(c.counters ?? {})) {
      for (const [d, v] of Object.entries(shares)) {
        key.push(c.key!);
        col.push(k);
        // a change carries only its origin's share, and the starting value ('')
        dc.push(d === '' ? '' : origin);
        value.push(v);
        ms.push(c.ms);
        seq.push(c.id);
      }
    }
  }
  if (!key.length) return;
  await db.query(
    `insert into ferry.counters as s (tbl, key, col, dc, value, ms, origin, seq)
     select $1, k, c, d, v, m, $7, q from unnest($2::text[], $3::text[], $4::text[], $5::numeric[], $6::bigint[], $8::bigint[]) as x(k, c, d, v, m, q)
      where not exists (select 1 from ferry.counter_resets r where r.tbl = $1 and r.key = x.k and (r.ms, r.origin, r.seq) >= (x.m, $7, x.q))
     on conflict (tbl, key, col, dc) do update set value = excluded.value, ms = excluded.ms, origin = excluded.origin, seq = excluded.seq
      where s.dc <> '' and (s.ms, s.origin, s.seq) < (excluded.ms, excluded.origin, excluded.seq)`,
    [t.oid, key, col, dc, value, ms, origin, seq],
  );
}

/** Deletes (whether they win the row or not) reset the counter: older shares stop counting. */
export async function resetShares(db: Queryable, t: TableInfo, origin: string, deletes: Change[]): Promise<void> {
  if (!deletes.length || !t.counters.length) return;
  const args = [t.oid, deletes.map((c) => c.key!), deletes.map((c) => c.ms), origin, deletes.map((c) => c.id)];
  const r = await db.query(
    `insert into ferry.counter_resets as r (tbl, key, ms, origin, seq)
     select $1, k, m, $4, q from unnest($2::text[], $3::bigint[], $5::bigint[]) as x(k, m, q)
     on conflict (tbl, key) do update set ms = excluded.ms, origin = excluded.origin, seq = excluded.seq
      where (r.ms, r.origin, r.seq) < (excluded.ms, excluded.origin, excluded.seq)`,
    args,
  );
  if (!r.rowCount) return;
  // shares older than the reset stop counting
  await db.query(
    `delete from ferry.counters s using ferry.counter_resets r
      where s.tbl = $1 and r.tbl = $1 and s.key = r.key and s.key = any($2::text[]) and (s.ms, s.origin, s.seq) < (r.ms, r.origin, r.seq)`,
    [t.oid, deletes.map((c) => c.key!)],
  );
}

/**
 * Sets each counter column of these rows to the sum of its shares here. The rows are locked first,
 * by a statement of their own: a local write holding one commits before the sums are read, in the
 * next statement's snapshot. Summed in the UPDATE that waited for it, the sums came from the
 * snapshot taken before it committed, and the row lost that write's increment for good.
 */
export async function applySums(db: Queryable, t: TableInfo, keys: string[], keyTexts: string[], cols: string[]): Promise<void> {
  if (!keyTexts.length || !cols.length) return;
  const kc = keys.map(quoteIdent).join(', ');
  await db.query(`select 1 from ${t.sql} t, rows from (${recordsetFn(t, keys, '$1')}) as x(${kc}) where ${keyMatch(keys)} for update of t`, [keysParam(keyTexts)]);
  const set = cols
    .map((c) => `${quoteIdent(c)} = coalesce((select sum(s.value) from ferry.counters s where s.tbl = $3 and s.key = x.${own(t, 'ferry_key')} and s.col = ${`'${c.replace(/'/g, "''")}'`}), t.${quoteIdent(c)})`)
    .join(', ');
  await db.query(`update ${t.sql} t set ${set} from rows from (${recordsetFn(t, keys, '$1')}, unnest($2::text[])) as x(${kc}, ${own(t, 'ferry_key')}) where ${keyMatch(keys)}`, [
    keysParam(keyTexts),
    keyTexts,
    t.oid,
  ]);
}
