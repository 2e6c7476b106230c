import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { inTransaction, Queryable } from '../common/db';
import { FerryError } from '../common/errors';
import { MIGRATE_LOCK_TEXT } from '../common/locks';
import { recordIdentityIfUnknown } from '../tables/state';

/**
 * Schema ferry in two parts (pg-boss's construction plans kept apart from its migration plans):
 * tables and columns change through numbered migrations (migrations/NNNN_name.sql), applied once;
 * functions are today's source, one file per subject (functions/NN_name.sql), re-installed by every
 * `ferry init`, so the capture function or the tick is read in one file, not pieced together from
 * history.
 */
export interface Migration {
  id: number;
  name: string;
  sql: string;
}

const MIGRATIONS = path.join(__dirname, 'migrations');
const FUNCTIONS = path.join(__dirname, 'functions');

/** The numbered .sql files, in order. */
export function migrations(): Migration[] {
  return readdirSync(MIGRATIONS)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ id: Number(f.slice(0, 4)), name: f.replace(/\.sql$/, ''), sql: readFileSync(path.join(MIGRATIONS, f), 'utf8') }));
}

/** The function files, in order. */
export function functionFiles(): { name: string; sql: string }[] {
  return readdirSync(FUNCTIONS)
    .filter((f) => /^\d{2}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ name: f, sql: readFileSync(path.join(FUNCTIONS, f), 'utf8') }));
}

/** Names this build's function files: a digest of their text. */
export function functionsBuild(): string {
  const h = createHash('sha256');
  for (const f of functionFiles()) h.update(f.name).update('\0').update(f.sql).update('\0');
  return h.digest('hex').slice(0, 16);
}

const BOOTSTRAP = `
create schema if not exists ferry;
create table if not exists ferry.migrations (
  id int primary key,
  name text not null,
  applied_at timestamptz not null default now()
);`;

/** Functions `ferry track` generates per table: checked by other means (they are regenerated on rotation). */
const GENERATED = `p.proname ~ '^capture_[0-9]+$'`;

const RECORD_FUNCTIONS = `
insert into ferry.functions (signature, body_md5, build)
select p.oid::regprocedure::text, md5(p.prosrc), $1
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where n.nspname = 'ferry' and not (${GENERATED});`;

const REINSTALL_CAPTURE = `select ferry.install_capture(tbl) from ferry.tracked where active`;

/** The SQL `ferry init` would run, for a DBA to read first (`ferry init --print`). */
export function printableSql(): string {
  const lockNote = `-- run inside one transaction, after: select pg_advisory_xact_lock(hashtext('${MIGRATE_LOCK_TEXT}'));`;
  return (
    [
      lockNote,
      BOOTSTRAP.trim(),
      '-- migrations not yet applied (ferry.migrations says which):',
      ...migrations().map((m) => `-- ${m.name}\n${m.sql.trim()}\ninsert into ferry.migrations (id, name) values (${m.id}, '${m.name}');`),
      '-- functions, installed by every `ferry init`:',
      ...functionFiles().map((f) => `-- functions/${f.name}\n${f.sql.trim()}`),
      `-- the capture function of every tracked table, regenerated:\n${REINSTALL_CAPTURE};`,
      `-- what was installed, so that a changed body is noticed:\ndelete from ferry.functions;${RECORD_FUNCTIONS.replace('$1', `'${functionsBuild()}'`)}`,
    ].join('\n\n') + '\n'
  );
}

/**
 * Applies the migrations not yet applied and installs the functions, all in one transaction under a
 * transaction-level advisory lock, so two `ferry init` at once (two sidecars starting) cannot
 * interleave. `upTo` stops at that migration (tests use it to build a database as an older release
 * left it; the functions, which are today's, are then not installed).
 */
export async function migrate(client: Client, opts: { origin?: string; upTo?: number } = {}): Promise<{ applied: string[]; current: number }> {
  const upTo = opts.upTo ?? Infinity;
  return inTransaction(client, async () => {
    await client.query('select pg_advisory_xact_lock(hashtext($1))', [MIGRATE_LOCK_TEXT]);
    await client.query(BOOTSTRAP);
    const done = new Set((await client.query<{ id: number }>('select id from ferry.migrations')).rows.map((r) => r.id));
    const applied: string[] = [];
    for (const m of migrations()) {
      if (done.has(m.id) || m.id > upTo) continue;
      await client.query(m.sql);
      await client.query('insert into ferry.migrations (id, name) values ($1, $2)', [m.id, m.name]);
      applied.push(m.name);
    }
    const all = migrations();
    const current = Math.min(upTo, all[all.length - 1].id);
    if (current === all[all.length - 1].id) {
      if (opts.origin) await claimOrigin(client, opts.origin);
      // which cluster and timeline the stream's positions are recorded in (forward/lineage.ts)
      await recordIdentityIfUnknown(client);
      for (const f of functionFiles()) await client.query(f.sql);
      await client.query(REINSTALL_CAPTURE);
      await client.query('delete from ferry.functions');
      await client.query(RECORD_FUNCTIONS, [functionsBuild()]);
    }
    return { applied, current };
  });
}

/** Records which DC this database is; refuses a database that is another DC's. */
async function claimOrigin(db: Queryable, origin: string): Promise<void> {
  const r = await db.query<{ origin: string | null }>('select origin from ferry.state');
  const have = r.rows[0].origin;
  if (have === null) await db.query('update ferry.state set origin = $1', [origin]);
  else if (have !== origin) {
    throw new FerryError(`this database is DC ${have}'s (ferry.state.origin), but the configuration says origin: ${origin}; point the configuration at ${origin}'s own database, or fix origin`);
  }
}

/** Refuses to run as one DC against another DC's database, or one that `ferry init` has not claimed. */
export async function checkOrigin(db: Queryable, origin: string): Promise<void> {
  const have = (await db.query<{ origin: string | null }>('select origin from ferry.state')).rows[0].origin;
  if (have === null) throw new FerryError(`this database has no DC id yet: run \`ferry init --config FILE\` (it records origin: ${origin})`);
  if (have !== origin) throw new FerryError(`this database is DC ${have}'s (ferry.state.origin), but the configuration says origin: ${origin}; point the configuration at ${origin}'s own database, or fix origin`);
}

/**
 * Refuses to run Ferry against a schema older (or newer) than this build, or with functions that
 * are not this build's: the forwarder and the appliers call functions and tables the schema
 * defines, and a mismatch would fail later, deep in a batch, with a message about a missing column.
 */
export async function checkSchema(db: Queryable): Promise<void> {
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
  const build = functionsBuild();
  const r = await db.query<{ signature: string; build: string | null; recorded: string | null; now: string | null }>(
    `select coalesce(f.signature, p.sig) as signature, f.build, f.body_md5 as recorded, p.md5 as now
       from ferry.functions f
       full join (select p.oid::regprocedure::text as sig, md5(p.prosrc) as md5
                    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                   where n.nspname = 'ferry' and not (${GENERATED})) p on p.sig = f.signature`,
  );
  if (!r.rows.length || r.rows.some((x) => x.build !== null && x.build !== build)) {
    throw new FerryError('the functions of schema ferry were installed by another Ferry build: run `ferry init` to install this build\'s');
  }
  const changed = r.rows.filter((x) => x.recorded !== x.now).map((x) => x.signature).sort();
  if (changed.length) {
    throw new FerryError(`function(s) ${changed.join(', ')} of schema ferry differ from what \`ferry init\` installed (changed, added or dropped since): run \`ferry init\` to restore them`);
  }
}
