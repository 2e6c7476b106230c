import type { Queryable } from '../common/db';

/** ferry.tracked: the tables this DC captures (written by ferry.track / ferry.untrack). */
export interface TrackedTable {
  oid: number;
  /** format('%I.%I'): the name on the wire. */
  name: string;
  schema: string;
  table: string;
  keyCols: string[];
  /**
   * Every name each key column is known by, its name as tracked first: a change captured before a
   * rename (or after one, before the capture function was made anew) names it so in its image.
   */
  keyNames: string[][];
  active: boolean;
}

export async function trackedTables(db: Queryable): Promise<TrackedTable[]> {
  const r = await db.query<{ oid: number; name: string; schema_name: string; table_name: string; key_cols: string[]; active: boolean; aliases: string[][] }>(
    `select t.tbl::oid as oid, format('%I.%I', t.schema_name, t.table_name) as name, t.schema_name, t.table_name, t.key_cols, t.active,
            coalesce((select json_agg(coalesce((select json_agg(x.name order by x.name)
                                                  from (select c.name from ferry.column_names c where c.tbl = t.tbl and c.attnum = k.n
                                                        union select a.attname::text from pg_attribute a
                                                         where a.attrelid = t.tbl and a.attnum = k.n and not a.attisdropped) x), '[]'::json) order by k.o)
                        from unnest(t.key_attnums) with ordinality k(n, o)), '[]'::json) as aliases
       from ferry.tracked t order by 2`,
  );
  return r.rows.map((x) => ({
    oid: Number(x.oid),
    name: x.name,
    schema: x.schema_name,
    table: x.table_name,
    keyCols: x.key_cols,
    keyNames: x.key_cols.map((k, i) => [k, ...(x.aliases[i] ?? []).filter((a) => a !== k)]),
    active: x.active,
  }));
}

/**
 * Makes anew the capture function of every tracked table whose columns changed since (application
 * DDL: a column renamed, added, dropped or retyped); returns those tables.
 */
export async function refreshTracked(db: Queryable): Promise<string[]> {
  const r = await db.query<{ t: string }>('select t from ferry.refresh_tracked() t');
  return r.rows.map((x) => x.t);
}
