import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { inTransaction } from '../common/db';
import { FerryError } from '../common/errors';

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

const DIR = path.join(__dirname, 'migrations');

/** The numbered .sql files, in order. */
export function migrations(): Migration[] {
  return readdirSync(DIR)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ id: Number(f.slice(0, 4)), name: f.replace(/\.sql$/, ''), sql: readFileSync(path.join(DIR, f), 'utf8') }));
}

const BOOTSTRAP = `
create schema if not exists ferry;
create table if not exists ferry.migrations (
  id int primary key,
  name text not null,
  applied_at timestamptz not null default now()
);`;

/** The SQL `ferry init` would run, for a DBA to read first (`ferry init --print`). */
export function printableSql(): string {
  const lockNote = "-- run inside one transaction, after: select pg_advisory_xact_lock(hashtext('ferry.migrate'));";
  return [lockNote, BOOTSTRAP.trim(), ...migrations().map((m) => `-- ${m.name}\n${m.sql.trim()}\ninsert into ferry.migrations (id, name) values (${m.id}, '${m.name}');`)].join('\n\n') + '\n';
}

/**
 * Applies the migrations not yet applied, all in one transaction under a transaction-level
 * advisory lock, so two `ferry init` at once (two sidecars starting) cannot interleave.
 * `upTo` stops at that migration (tests use it to build a database as an older release left it).
 */
export async function migrate(client: Client, upTo = Infinity): Promise<{ applied: string[]; current: number }> {
  return inTransaction(client, async () => {
    await client.query("select pg_advisory_xact_lock(hashtext('ferry.migrate'))");
    await client.query(BOOTSTRAP);
    const done = new Set((await client.query<{ id: number }>('select id from ferry.migrations')).rows.map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations()) {
      if (done.has(m.id) || m.id > upTo) continue;
      await client.query(m.sql);
      await client.query('insert into ferry.migrations (id, name) values ($1, $2)', [m.id, m.name]);
      applied.push(m.name);
    }
    const all = migrations().filter((m) => m.id <= upTo);
    return { applied, current: all.length ? all[all.length - 1].id : 0 };
  });
}

/**
 * Refuses to run Ferry against a schema older (or newer) than this build: the forwarder and the
 * appliers call functions and tables the migrations define, and a mismatch would fail later, deep
 * in a batch, with a message about a missing column.
 */
export async function checkSchema(db: Pick<Client, 'query'>): Promise<void> {
  const all = migrations();
  const want = all[all.length - 1].id;
  const exists = await db.query<{ ok: boolean }>(`select to_regclass('ferry.migrations') is not null as ok`);
  if (!exists.rows[0].ok) throw new FerryError('schema ferry is not installed in this database: run `ferry init` first');
  const have = (await db.query<{ have: number }>('select coalesce(max(id), 0)::int as have from ferry.migrations')).rows[0].have;
  if (have < want) {
    const missing = all.filter((m) => m.id > have).map((m) => m.name);
    throw new FerryError(`schema ferry is at migration ${have} but this Ferry needs ${want} (${missing.join(', ')}): run \`ferry init\` to apply them`);
  }
  if (have > want) throw new FerryError(`schema ferry is at migration ${have}, newer than this Ferry knows (${want}): run a Ferry release at least as new as the one that ran \`ferry init\``);
}
