import { Client } from 'pg';
import { FerryError } from '../common/errors';

export interface TrackedTable {
  oid: number;
  name: string; // format('%I.%I'): the name on the wire
  schema: string;
  table: string;
  keyCols: string[];
  active: boolean;
}

function explain(e: unknown, table: string): never {
  const err = e as { message?: string; hint?: string; code?: string };
  if (err.code === '42P01') throw new FerryError(`table ${table} does not exist (check the name and the search_path; use schema.table)`);
  if (err.code === '3F000') throw new FerryError(`schema ferry is missing: run \`ferry init\` first`);
  if (err.code === '42883' && /ferry\.(un)?track/.test(err.message ?? '')) throw new FerryError(`schema ferry is missing or too old: run \`ferry init\` first`);
  throw new FerryError((err.message ?? String(e)).replace(/^ferry: /, '') + (err.hint ? `\n${err.hint}` : ''));
}

/** Starts capturing a table. The name is resolved by PostgreSQL (regclass), never spliced. */
export async function track(db: Client, table: string, key?: string[]): Promise<string> {
  try {
    const r = await db.query<{ name: string }>('select ferry.track($1::regclass, $2::text[]) as name', [table, key ?? null]);
    return r.rows[0].name;
  } catch (e) {
    explain(e, table);
  }
}

export async function untrack(db: Client, table: string): Promise<string> {
  try {
    const r = await db.query<{ name: string }>('select ferry.untrack($1::regclass) as name', [table]);
    return r.rows[0].name;
  } catch (e) {
    explain(e, table);
  }
}

export async function trackedTables(db: Pick<Client, 'query'>): Promise<TrackedTable[]> {
  const r = await db.query<{ oid: number; name: string; schema_name: string; table_name: string; key_cols: string[]; active: boolean }>(
    `select tbl::oid as oid, format('%I.%I', schema_name, table_name) as name, schema_name, table_name, key_cols, active from ferry.tracked order by 2`,
  );
  return r.rows.map((x) => ({ oid: Number(x.oid), name: x.name, schema: x.schema_name, table: x.table_name, keyCols: x.key_cols, active: x.active }));
}
