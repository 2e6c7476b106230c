import type { Queryable } from '../common/db';

/** ferry.conflicts: one row per resolution (written by apply/version-sql.ts). Counts for status. */
export async function conflictsByOrigin(db: Queryable): Promise<Record<string, Record<string, number>>> {
  const r = await db.query<{ origin: string; tbl: string; n: string }>('select remote_origin as origin, tbl, count(*) as n from ferry.conflicts group by 1, 2');
  const out: Record<string, Record<string, number>> = {};
  for (const x of r.rows) (out[x.origin] ??= {})[x.tbl] = Number(x.n);
  return out;
}
