import type { Queryable } from '../common/db';
import type { Tick } from './ticks';

/**
 * ferry.changes (and its three rotating children): written by the capture triggers, read batch by
 * batch by the forwarder, emptied by ferry.prune once published.
 */

// Changes committed between two ticks (§3.1); the xid range lets the index on xid do the work.
/** The changes of the batch between ticks $1 and $2 (their snapshots), alias c. */
export const BATCH_WHERE = `c.xid >= pg_snapshot_xmin($1::pg_snapshot) and c.xid < pg_snapshot_xmax($2::pg_snapshot)
   and pg_visible_in_snapshot(c.xid, $2::pg_snapshot) and not pg_visible_in_snapshot(c.xid, $1::pg_snapshot)`;

/**
 * One batch in its canonical order (§3.2): transactions by their largest change id, changes inside
 * a transaction by id; each with its position.
 */
const BATCH_SELECT = `select $3::bigint + row_number() over (order by txmax, id) - 1 as pos, id, xid::text as xid, tbl::oid as tbl, op, row::text as row, old::text as old, json_text, hlc, counters, id = txmax as tx_end
       from (select c.id, c.xid, c.tbl, c.op, c.row, c.old, c.json_text, c.hlc, c.counters, max(c.id) over (partition by c.xid) as txmax
               from ferry.changes c where ${BATCH_WHERE}) b
      order by txmax, id`;

/** Declares cursor `name` over one batch (BATCH_SELECT). Run inside a REPEATABLE READ transaction. */
export async function declareBatchCursor(db: Queryable, name: string, prev: Tick, cur: Tick, firstPos: number): Promise<void> {
  await db.query(`declare ${name} no scroll cursor for ${BATCH_SELECT}`, [prev.snap, cur.snap, firstPos]);
}

/** All of one batch in one statement (its own snapshot): for a batch known to be small. */
export async function selectBatch<R extends object>(db: Queryable, prev: Tick, cur: Tick, firstPos: number): Promise<R[]> {
  return (await db.query<R>(BATCH_SELECT, [prev.snap, cur.snap, firstPos])).rows;
}

/** Committed changes that are in no published batch yet (a writer that committed after the last tick, say). */
export async function unpublishedCount(db: Queryable): Promise<number> {
  const r = await db.query<{ n: string }>(
    `select count(*) as n from ferry.changes c, (select snap from ferry.ticks where published_at is not null order by tick desc limit 1) t
      where c.xid >= pg_snapshot_xmin(t.snap) and not pg_visible_in_snapshot(c.xid, t.snap)`,
  );
  return Number(r.rows[0].n);
}

/**
 * Empties the change tables that are not current and wholly published; returns the slots emptied.
 * Versions of changes outside `stable` (the snapshot every peer has applied) are kept first.
 */
export async function pruneChanges(db: Queryable, stable: string | null): Promise<number[]> {
  return (await db.query<{ s: number[] }>(`select ferry.prune('200ms', $1::pg_snapshot) as s`, [stable])).rows[0].s;
}

/** Switches capture to the next change table if it is empty. */
export async function rotateChanges(db: Queryable): Promise<boolean> {
  return (await db.query<{ ok: boolean }>('select ferry.rotate() as ok')).rows[0].ok;
}
