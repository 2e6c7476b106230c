import type { Queryable } from '../common/db';
import { prepared, quoteIdent } from '../common/db';
import type { Version } from './merge';
import { keyMatch, keysParam, recordsetFn, own } from './rows';
import type { TableInfo } from './table-info';

/**
 * What this DC holds for a key the applier is about to write: the row (its xmin, to notice a
 * local write that comes in between) and the row's version when it is still known.
 *
 * Where a version comes from (DESIGN.md §6):
 *  - the row was last written by the applier: ferry.row_versions, whose xid is the row's xmin;
 *  - it was last written here by the application: that change in ferry.changes (found by the row's
 *    xmin, which is the writer's transaction), or, once its change table was emptied while a peer
 *    had not yet applied it, ferry.row_versions again;
 *  - it is gone: the tombstone in ferry.row_versions.
 * With none of these, the row is older than anything that can still arrive (its entry was purged
 * because every peer had applied past it): `version` is null, and any remote change wins.
 */
export interface LocalState {
  exists: boolean;
  xmin?: string;
  ctid?: string;
  /** The row's table (tableoid): a partition's, for a partitioned table, where ctids repeat. */
  rel?: string;
  version: Version | null;
  /** The version is a tombstone. */
  deleted: boolean;
  /**
   * The key's entry in ferry.row_versions as read (null: none). The applier of another origin may
   * write the same key meanwhile; the versions the applier records must find this entry unchanged.
   */
  entry: Version | null;
}

type Row = {
  ferry_n: string;
  xmin: string | null;
  ctid: string | null;
  rel: string | null;
  ms: string | null;
  origin: string | null;
  seq: string | null;
  deleted: boolean | null;
  vxid: string | null;
  /** [hlc, id] of the change that wrote the row here, when found */
  w: (string | null)[] | null;
};

/**
 * The row's xmin as a full transaction id, over the snapshot's xmax read once per statement (the
 * one-argument ferry.xid8_of reads it for each key). Only when a change is kept at all: otherwise
 * nothing compares with it.
 */
const X8 = `case when kept.xid is not null then ferry.xid8_of(t.xmin, kept.cur) end`;

/**
 * The local state of each key (by index into keyTexts), in ONE statement: the pruner empties a
 * change table and keeps its versions in ferry.row_versions in one transaction, and only a single
 * snapshot sees either the one or the other (two statements could miss both).
 */
export async function readLocalStates(db: Queryable, t: TableInfo, keys: string[], keyTexts: string[], self: string): Promise<LocalState[]> {
  const cols = keys.map(quoteIdent).join(', ');
  const r = await db.query<Row>(
    prepared(
      `select x.${own(t, 'ferry_n')} as ferry_n, l.xmin, l.ctid, l.rel, v.ms, v.origin, v.seq, v.deleted, (v.xid::text::bigint & 4294967295)::text as vxid,
              -- a row an application transaction wrote last: that change's version, found by the row's
              -- xmin; not looked for when that transaction is older than every change kept (a row
              -- loaded before tracking, or written long ago): a probe of each change table per row
              case when l.x8 >= kept.xid and (v.tbl is null or v.deleted or (v.xid::text::bigint & 4294967295)::text <> l.xmin) then
                (select array[c.hlc, c.id] from ferry.changes c
                  where c.xid = l.x8 and c.tbl = $3 and c.op in ('I', 'U') and c.row::jsonb @> x.${own(t, 'ferry_key')}::jsonb
                  order by c.id desc limit 1) end as w
         from (select min(xid) as xid, pg_snapshot_xmax(pg_current_snapshot())::text::bigint as cur from ferry.changes) kept
        cross join rows from (${recordsetFn(t, keys, '$1')}, unnest($2::text[])) with ordinality as x(${cols}, ${own(t, 'ferry_key')}, ${own(t, 'ferry_n')})
         left join lateral (select t.xmin::text as xmin, ${X8} as x8, t.ctid::text as ctid, t.tableoid::oid::text as rel from ${t.sql} t where ${keyMatch(keys)} limit 1) l on true
         -- looked up by its key for each key: as a plain join, with ferry.row_versions' statistics
         -- behind its churn, the plan read all of a table's entries for every key (a latency run:
         -- 24 480 rows read and dropped to find 80, 17 of the statement's 20 ms)
         left join lateral (select * from ferry.row_versions v where v.tbl = $3 and v.key = x.${own(t, 'ferry_key')} limit 1) v on true
        where l.xmin is not null or v.tbl is not null`,
      [keysParam(keyTexts), keyTexts, t.oid],
    ),
  );
  const out: LocalState[] = keyTexts.map(() => ({ exists: false, version: null, deleted: false, entry: null }));
  for (const x of r.rows) {
    const i = Number(x.ferry_n) - 1;
    const entry: Version | null = x.ms === null ? null : { ms: Number(x.ms), origin: x.origin!, seq: Number(x.seq) };
    if (x.xmin !== null) {
      out[i] = { exists: true, xmin: x.xmin, ctid: x.ctid!, rel: x.rel!, version: null, deleted: false, entry };
      if (entry && !x.deleted && x.vxid === x.xmin) out[i].version = entry;
      else if (x.w !== null) out[i].version = { ms: Number(x.w[0] ?? 0), origin: self, seq: Number(x.w[1]) };
    } else if (entry && x.deleted) {
      out[i] = { exists: false, version: entry, deleted: true, entry };
    } else {
      out[i] = { ...out[i], entry };
    }
  }
  return out;
}
