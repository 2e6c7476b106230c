import type { Queryable } from '../common/db';

/**
 * ferry.counters and ferry.counter_resets (written by the capture trigger and apply/counters-sql.ts):
 * here, what `ferry bootstrap` copies of one table, so the new DC counts from the same shares.
 */
export interface CounterRows {
  shares: { key: string; col: string; dc: string; value: string; ms: string; origin: string; seq: string }[];
  resets: { key: string; ms: string; origin: string; seq: string }[];
}

export async function readCounters(db: Queryable, tbl: number): Promise<CounterRows> {
  const shares = await db.query<CounterRows['shares'][number]>('select key, col, dc, value::text as value, ms::text as ms, origin, seq::text as seq from ferry.counters where tbl = $1', [tbl]);
  const resets = await db.query<CounterRows['resets'][number]>('select key, ms::text as ms, origin, seq::text as seq from ferry.counter_resets where tbl = $1', [tbl]);
  return { shares: shares.rows, resets: resets.rows };
}

export async function writeCounters(db: Queryable, tbl: number, c: CounterRows): Promise<void> {
  const s = c.shares;
  if (s.length) {
    await db.query(
      `insert into ferry.counters (tbl, key, col, dc, value, ms, origin, seq)
       select $1, * from unnest($2::text[], $3::text[], $4::text[], $5::numeric[], $6::bigint[], $7::text[], $8::bigint[])`,
      [tbl, s.map((x) => x.key), s.map((x) => x.col), s.map((x) => x.dc), s.map((x) => x.value), s.map((x) => x.ms), s.map((x) => x.origin), s.map((x) => x.seq)],
    );
  }
  const r = c.resets;
  if (r.length) {
    await db.query(`insert into ferry.counter_resets (tbl, key, ms, origin, seq) select $1, * from unnest($2::text[], $3::bigint[], $4::text[], $5::bigint[])`, [
      tbl,
      r.map((x) => x.key),
      r.map((x) => x.ms),
      r.map((x) => x.origin),
      r.map((x) => x.seq),
    ]);
  }
}
