import { Client } from 'pg';
import { FerryError } from '../common/errors';

function explain(e: unknown, table: string): never {
  const err = e as { message?: string; hint?: string; code?: string };
  if (err.code === '42P01') throw new FerryError(`table ${table} does not exist (check the name and the search_path; use schema.table)`);
  if (err.code === '3F000') throw new FerryError(`schema ferry is missing: run \`ferry init\` first`);
  if (err.code === '42883' && /ferry\.(un)?track/.test(err.message ?? '')) throw new FerryError(`schema ferry is missing or too old: run \`ferry init\` first`);
  throw new FerryError((err.message ?? String(e)).replace(/^ferry: /, '') + (err.hint ? `\n${err.hint}` : ''));
}

/** Starts capturing a table. The name is resolved by PostgreSQL (regclass), never spliced. */
export async function track(db: Client, table: string, key?: string[], counters?: string[]): Promise<string> {
  try {
    const r = await db.query<{ name: string }>('select ferry.track($1::regclass, $2::text[], $3::text[]) as name', [table, key ?? null, counters ?? null]);
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
