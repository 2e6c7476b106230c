import type { Queryable } from '../common/db';
import { prepared, quoteIdent } from '../common/db';
import type { Conflict } from './resolve';
import { formatVersion, Version } from './merge';
import { keyMatch, keysParam, recordsetFn, own } from './rows';
import type { TableInfo } from './table-info';
import { LocalWriteRace } from './local-write-race';

/** The statements of versions, conflicts and quarantine that the applier writes with the rows. */

export interface VersionRecord {
  key: string;
  version: Version;
  deleted: boolean;
  pos: number;
  /** The key's entry in ferry.row_versions when the applier read it (LocalState.entry). */
  expect: Version | null;
}

/**
 * Inside the destination transaction: the versions of the rows it wrote (with its xid), each only
 * over the entry the applier read. The applier of another origin may have written the same key
 * since (it read the key before this one committed): the statements wait for it, find the entry
 * changed and throw LocalWriteRace, and the group goes again over what that applier left. Without
 * this, of two appliers that both found a key free, the one committing last would leave its row
 * and its version whatever the versions say.
 */
export async function recordVersions(db: Queryable, t: TableInfo, records: VersionRecord[]): Promise<void> {
  await recordVersionsOf(db, [{ t, records }]);
}

/**
 * The same for the rows of several tables at once, in one statement: each entry updated over the
 * one read; one that is gone since (the pruner purged it: every peer had applied past it, no race)
 * written again where still none is; and the entries of keys that had none written. An entry
 * another applier wrote meanwhile conflicts: fewer rows than records are written, or the key's
 * entry is there already, and the group goes again.
 */
export async function recordVersionsOf(db: Queryable, sets: { t: TableInfo; records: VersionRecord[] }[]): Promise<void> {
  const all = sets.flatMap(({ t, records }) => records.map((r) => ({ tbl: t.oid, r })));
  if (!all.length) return;
  const what = () => `recording versions of ${sets.filter((x) => x.records.length).map((x) => x.t.wireName).join(', ')}`;
  // the entries to update come as arrays of their own: the planner then knows how few they are
  // (in a steady load, a few hundred of a group's thousands of records) and looks each one up by its
  // key. Given as a filter over all records, they were estimated at all of them and the whole of
  // ferry.row_versions, a table that churns, was hash-joined: 53 ms a group, a third of the
  // applier's time in the database in a steady run with three DCs. The keys that had no entry are
  // a plain INSERT: ON CONFLICT's speculative insertion cost twice as much a row (3 000 rows: 56 ms
  // plain, 104–116 ms with it), and an entry there now is a race either way
  const upd = all.filter((x) => x.r.expect);
  const add = all.filter((x) => !x.r.expect);
  try {
    const res = await db.query<{ n: string }>(
      `with e as (select * from unnest($8::oid[], $9::text[], $10::bigint[], $11::text[], $12::bigint[], $13::bool[], $14::bigint[], $15::bigint[], $16::text[], $17::bigint[]) as e(tbl, k, ms, o, seq, del, pos, ems, eo, eseq)),
       u as (update ferry.row_versions v set ms = e.ms, origin = e.o, seq = e.seq, deleted = e.del, xid = pg_current_xact_id(), pos = e.pos
               from e where v.tbl = e.tbl and v.key = e.k and (v.ms, v.origin, v.seq) = (e.ems, e.eo, e.eseq)
             returning v.tbl, v.key),
       r as (insert into ferry.row_versions (tbl, key, ms, origin, seq, deleted, xid, pos)
             select tbl, k, ms, o, seq, del, pg_current_xact_id(), pos from e where not exists (select 1 from u where u.tbl = e.tbl and u.key = e.k)
             on conflict (tbl, key) do nothing
             returning 1),
       i as (insert into ferry.row_versions (tbl, key, ms, origin, seq, deleted, xid, pos)
             select tbl, k, ms, o, seq, del, pg_current_xact_id(), pos
               from unnest($1::oid[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bool[], $7::bigint[]) as x(tbl, k, ms, o, seq, del, pos)
             returning 1)
       select (select count(*) from u) + (select count(*) from r) + (select count(*) from i) as n`,
      [...columns(add), ...columns(upd), upd.map((x) => x.r.expect!.ms), upd.map((x) => x.r.expect!.origin), upd.map((x) => x.r.expect!.seq)],
    );
    if (Number(res.rows[0].n) !== all.length) throw new LocalWriteRace(what());
  } catch (e) {
    const pg = e as { code?: string; constraint?: string };
    if (pg.code === '23505' && pg.constraint === 'row_versions_pkey') throw new LocalWriteRace(what());
    throw e;
  }
}

/** tbl, key, ms, origin, seq, deleted, pos of each record, as arrays. */
const columns = (xs: { tbl: number; r: VersionRecord }[]) => [
  xs.map((x) => x.tbl),
  xs.map((x) => x.r.key),
  xs.map((x) => x.r.version.ms),
  xs.map((x) => x.r.version.origin),
  xs.map((x) => x.r.version.seq),
  xs.map((x) => x.r.deleted),
  xs.map((x) => x.r.pos),
];

/** Inside the destination transaction: keys this group found absent are still absent (a write of this DC may have committed one since). */
export async function stillAbsent(db: Queryable, t: TableInfo, keys: string[], keyTexts: string[]): Promise<void> {
  if (!keyTexts.length) return;
  const cols = keys.map(quoteIdent).join(', ');
  const r = await db.query<{ n: string }>(`select count(*) as n from ${t.sql} t, rows from (${recordsetFn(t, keys, '$1')}) as x(${cols}) where ${keyMatch(keys)}`, [keysParam(keyTexts)]);
  if (Number(r.rows[0].n) > 0) throw new LocalWriteRace(`deleting from ${t.wireName}`);
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

/**
 * After a group is written, in one round trip: reads this DC's wall clock (for the skew alarm) and
 * moves the clock floor past the newest version written (`ms`) so a causally later local write beats
 * it (§6) — unless `refuseAheadMs` is given and the version is further ahead of the wall clock than
 * that: the stream is about to stop (onClockSkew: stop) and the floor must not jump with it.
 * Returns the wall clock read.
 */
export async function advanceClockPast(db: Queryable, ms: number, refuseAheadMs: number | null): Promise<number> {
  const r = await db.query<{ w: string }>(
    prepared(
      `select w, case when $2::bigint is null or $1::bigint - w <= $2::bigint then ferry.advance_clock($1::bigint + 1) end as floor
         from (select ferry.wall_ms() as w) now`,
      [ms, refuseAheadMs],
    ),
  );
  return Number(r.rows[0].w);
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
  const r = await db.query<{ ferry_n: string; key: string; xmin: string; row: string }>(
    `select x.${own(t, 'ferry_n')} as ferry_n, ${keyTextSql(keys, 't')} as key, t.xmin::text as xmin, to_jsonb(t)::text as row
       from rows from (${recordsetFn(t, cols, '$1')}) with ordinality as x(${cols.map(quoteIdent).join(', ')}, ${own(t, 'ferry_n')})
       join ${t.sql} t on ${keyMatch(index.cols)}
      where not (${keyMatch(keys)})`,
    [rowsJson],
  );
  return r.rows.map((x) => ({ n: Number(x.ferry_n) - 1, key: x.key, xmin: x.xmin, row: x.row }));
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
    `delete from ${t.sql} t using rows from (${recordsetFn(t, keys, '$1')}, unnest($2::text[])) as x(${cols}, ${own(t, 'ferry_xmin')})
      where ${keyMatch(keys)} and t.xmin = x.${own(t, 'ferry_xmin')}::xid`,
    [keysParam(keyTexts), xmins],
  );
  return r.rowCount ?? 0;
}
