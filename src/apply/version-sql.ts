import type { Queryable } from '../common/db';
import { quoteIdent } from '../common/db';
import type { Conflict } from './resolve';
import { formatVersion, Version } from './merge';
import { keyMatch, keysParam, recordsetFn } from './rows';
import type { TableInfo } from './table-info';

/** The statements of versions, conflicts and quarantine that the applier writes with the rows. */

export interface VersionRecord {
  key: string;
  version: Version;
  deleted: boolean;
  pos: number;
}

/** Inside the destination transaction: the versions of the rows it wrote (with its xid). */
export async function recordVersions(db: Queryable, t: TableInfo, records: VersionRecord[]): Promise<void> {
  if (!records.length) return;
  await db.query(
    `insert into ferry.row_versions as v (tbl, key, ms, origin, seq, deleted, xid, pos)
     select $1, k, ms, o, seq, del, pg_current_xact_id(), pos from unnest($2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bool[], $7::bigint[]) as x(k, ms, o, seq, del, pos)
     on conflict (tbl, key) do update set ms = excluded.ms, origin = excluded.origin, seq = excluded.seq, deleted = excluded.deleted, xid = excluded.xid, pos = excluded.pos`,
    [t.oid, records.map((r) => r.key), records.map((r) => r.version.ms), records.map((r) => r.version.origin), records.map((r) => r.version.seq), records.map((r) => r.deleted), records.map((r) => r.pos)],
  );
}

/** Inside the destination transaction: each resolution, once (a redelivery adds nothing). */
export async function recordConflicts(db: Queryable, self: string, conflicts: Conflict[]): Promise<void> {
  if (!conflicts.length) return;
  await db.query(
    `insert into ferry.conflicts (tbl, key, rule, winner, local_version, local_origin, remote_version, remote_origin, remote_pos, resolved_by)
     select * from unnest($1::text[], $2::jsonb[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[])
     on conflict (remote_origin, remote_pos, rule) do nothing`,
    [
      conflicts.map((c) => c.table),
      conflicts.map((c) => c.key),
      conflicts.map((c) => c.rule),
      conflicts.map((c) => c.winner),
      conflicts.map((c) => (c.local ? formatVersion(c.local) : null)),
      conflicts.map((c) => c.local?.origin ?? null),
      conflicts.map((c) => formatVersion(c.remote)),
      conflicts.map((c) => c.remote.origin),
      conflicts.map((c) => c.pos),
      conflicts.map(() => self),
    ],
  );
}

/** Moves this DC's clock floor past a remote version (DESIGN.md §6); returns this DC's wall clock. */
export async function advanceClock(db: Queryable, ms: number): Promise<void> {
  await db.query('select ferry.advance_clock($1)', [ms]);
}

export async function wallClock(db: Queryable): Promise<number> {
  return Number((await db.query<{ w: string }>('select ferry.wall_ms() as w')).rows[0].w);
}

/** The key of a row of this table as the wire writes it, in SQL (the capture trigger writes it so). */
export const keyTextSql = (keys: string[], alias: string) =>
  `'{' || ${keys.map((k) => `${quoteLiteral(JSON.stringify(k) + ': ')} || to_json(${alias}.${quoteIdent(k)})::text`).join(` || ', ' || `)} || '}'`;
const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Rows of this DC, other than the incoming ones, that hold the values a unique index makes theirs. */
export async function uniqueHolders(
  db: Queryable,
  t: TableInfo,
  index: { cols: string[]; index: string },
  keys: string[],
  rowsJson: string,
): Promise<{ n: number; key: string; xmin: string; row: string }[]> {
  const cols = [...new Set([...index.cols, ...keys])];
  const r = await db.query<{ n: string; key: string; xmin: string; row: string }>(
    `select x.n, ${keyTextSql(keys, 't')} as key, t.xmin::text as xmin, to_jsonb(t)::text as row
       from rows from (${recordsetFn(t, cols, '$1')}) with ordinality as x(${cols.map(quoteIdent).join(', ')}, n)
       join ${t.sql} t on ${keyMatch(index.cols)}
      where not (${keyMatch(keys)})`,
    [rowsJson],
  );
  return r.rows.map((x) => ({ n: Number(x.n) - 1, key: x.key, xmin: x.xmin, row: x.row }));
}

export async function quarantine(db: Queryable, self: string, rows: { table: string; key: string; row: string | null; version: Version; reason: string }[]): Promise<void> {
  if (!rows.length) return;
  await db.query(
    `insert into ferry.quarantine (tbl, key, row, version, origin, reason, quarantined_by)
     select t, k::jsonb, r::jsonb, v, o, why, $6 from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $7::text[]) as x(t, k, r, v, o, why)`,
    [rows.map((r) => r.table), rows.map((r) => r.key), rows.map((r) => r.row), rows.map((r) => formatVersion(r.version)), rows.map((r) => r.version.origin), self, rows.map((r) => r.reason)],
  );
}

/** Deletes rows of this DC by key if their xmin is still the one read; returns how many. */
export async function deleteByKeyText(db: Queryable, t: TableInfo, keys: string[], keyTexts: string[], xmins: string[]): Promise<number> {
  const cols = keys.map(quoteIdent).join(', ');
  const r = await db.query(
    `delete from ${t.sql} t using rows from (${recordsetFn(t, keys, '$1')}, unnest($2::text[])) as x(${cols}, ferry_xmin)
      where ${keyMatch(keys)} and t.xmin = x.ferry_xmin::xid`,
    [keysParam(keyTexts), xmins],
  );
  return r.rowCount ?? 0;
}
