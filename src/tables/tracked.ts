import type { Queryable } from '../common/db';

/** ferry.tracked: the tables this DC captures (written by ferry.track / ferry.untrack). */
export interface TrackedTable {
  oid: number;
  /** format('%I.%I'): the name on the wire. */
  name: string;
  schema: string;
  table: string;
  keyCols: string[];
  active: boolean;
}

export async function trackedTables(db: Queryable): Promise<TrackedTable[]> {
  const r = await db.query<{ oid: number; name: string; schema_name: string; table_name: string; key_cols: string[]; active: boolean }>(
    `select tbl::oid as oid, format('%I.%I', schema_name, table_name) as name, schema_name, table_name, key_cols, active from ferry.tracked order by 2`,
  );
  return r.rows.map((x) => ({ oid: Number(x.oid), name: x.name, schema: x.schema_name, table: x.table_name, keyCols: x.key_cols, active: x.active }));
}
