import type { Queryable } from '../common/db';

/**
 * ferry.bootstrap and ferry.bootstrap_tables: a new DC filled by `ferry bootstrap --from DC`. A
 * table's row is written in the destination transaction that copied its rows (a rerun skips it);
 * the applier reads them to drop the changes a copy already holds (see apply/copied.ts).
 */

/** What the source had of one origin in the snapshot a table was copied in. */
export interface OriginMark {
  pos: number;
  tick: number | null;
  offset: string | null;
  /** The origin's tick snapshot whose transactions were all applied at the source (read-your-writes). */
  snap: string | null;
  snapTick: number | null;
  /** The origin's vector as the source knew it. */
  seen: Record<string, number>;
}

export interface CopiedTable {
  table: string;
  snap: string;
  applied: Record<string, OriginMark>;
  rows: number;
}

export interface BootstrapState {
  source: string;
  finished: boolean;
  covered: Record<string, number> | null;
}

export async function readBootstrap(db: Queryable): Promise<BootstrapState | null> {
  const r = await db.query<{ source: string; finished: boolean; covered: Record<string, number> | null }>(
    'select source, finished_at is not null as finished, covered from ferry.bootstrap',
  );
  const x = r.rows[0];
  return x ? { source: x.source, finished: x.finished, covered: x.covered } : null;
}

export async function beginBootstrap(db: Queryable, source: string): Promise<void> {
  await db.query('insert into ferry.bootstrap (source) values ($1) on conflict (singleton) do nothing', [source]);
}

export async function finishBootstrap(db: Queryable, covered: Record<string, number>): Promise<void> {
  await db.query('update ferry.bootstrap set finished_at = now(), covered = $1::jsonb', [JSON.stringify(covered)]);
}

export async function copiedTables(db: Queryable): Promise<CopiedTable[]> {
  const r = await db.query<{ tbl: string; snap: string; applied: Record<string, OriginMark>; rows: string }>('select tbl, snap::text as snap, applied, rows from ferry.bootstrap_tables order by tbl');
  return r.rows.map((x) => ({ table: x.tbl, snap: x.snap, applied: x.applied, rows: Number(x.rows) }));
}

/** Inside the destination transaction that copied the table's rows. */
export async function recordCopied(db: Queryable, t: CopiedTable): Promise<void> {
  await db.query('insert into ferry.bootstrap_tables (tbl, snap, applied, rows) values ($1, $2::pg_snapshot, $3::jsonb, $4)', [t.table, t.snap, JSON.stringify(t.applied), t.rows]);
}

/** A bootstrap that has begun and not finished (this DC must not run until it has). */
export async function unfinishedBootstrap(db: Queryable): Promise<string | null> {
  const r = await db.query<{ source: string }>('select source from ferry.bootstrap where finished_at is null');
  return r.rows[0]?.source ?? null;
}

/**
 * What the copies of a finished bootstrap hold of one origin's stream, for the applier to drop:
 * changes up to `until`, per table by xid (the source's own changes, visible in the table's
 * snapshot) or by position (another origin's, up to what the source had applied). null when there
 * is nothing to drop.
 */
export async function copiedOf(db: Queryable, origin: string): Promise<{ source: string; until: number; tables: { table: string; snap: string; pos: number }[] } | null> {
  const b = await readBootstrap(db);
  const until = b?.finished ? b.covered?.[origin] : undefined;
  if (!b || until === undefined) return null;
  const tables = (await copiedTables(db)).map((c) => ({ table: c.table, snap: c.snap, pos: c.applied[origin]?.pos ?? 0 }));
  return { source: b.source, until, tables };
}
