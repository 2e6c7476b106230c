import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { inTransaction } from '../common/db';

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
 */
export async function migrate(client: Client): Promise<{ applied: string[]; current: number }> {
  return inTransaction(client, async () => {
    await client.query("select pg_advisory_xact_lock(hashtext('ferry.migrate'))");
    await client.query(BOOTSTRAP);
    const done = new Set((await client.query<{ id: number }>('select id from ferry.migrations')).rows.map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations()) {
      if (done.has(m.id)) continue;
      await client.query(m.sql);
      await client.query('insert into ferry.migrations (id, name) values ($1, $2)', [m.id, m.name]);
      applied.push(m.name);
    }
    const all = migrations();
    return { applied, current: all.length ? all[all.length - 1].id : 0 };
  });
}
