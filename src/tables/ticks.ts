import type { Queryable } from '../common/db';
import { FerryError } from '../common/errors';
import { BATCH_WHERE } from './changes';

/**
 * ferry.ticks: one row per cut of this DC's change stream (DESIGN.md §3.1). A batch is every
 * change committed between two consecutive ticks; first_pos and cnt are stamped once, before
 * anything of the batch is published, so a re-publish repeats the very same positions.
 */
export interface Tick {
  tick: number;
  snap: string;
  firstPos: number | null;
  cnt: number | null;
  createdAt: Date;
  /** This DC's applied position of each origin when the tick was cut (its version vector). */
  seen: Record<string, number>;
}

type TickRow = { tick: string; snap: string; first_pos: string | null; cnt: string | null; created_at: Date; seen: Record<string, number> | null };
const COLS = `tick, snap::text as snap, first_pos, cnt, created_at, seen`;
const toTick = (r: TickRow): Tick => ({
  tick: Number(r.tick),
  snap: r.snap,
  firstPos: r.first_pos === null ? null : Number(r.first_pos),
  cnt: r.cnt === null ? null : Number(r.cnt),
  createdAt: r.created_at,
  seen: Object.fromEntries(Object.entries(r.seen ?? {}).map(([k, v]) => [k, Number(v)])),
});

/** The last position of this origin that is in a published batch: what the peers can have. */
export const PUBLISHED_POS_SQL = `coalesce(max(first_pos + cnt - 1) filter (where published_at is not null), 0)`;

export async function publishedPosition(db: Queryable): Promise<number> {
  const r = await db.query<{ p: string }>(`select ${PUBLISHED_POS_SQL} as p from ferry.ticks`);
  return Number(r.rows[0].p);
}

/** The oldest tick whose batch is not yet published, with the tick before it. */
export async function nextBatch(db: Queryable): Promise<{ prev: Tick; cur: Tick } | null> {
  const r = await db.query<TickRow>(
    `select ${COLS} from ferry.ticks
      where tick >= (select min(tick) from ferry.ticks where published_at is null) - 1
      order by tick limit 2`,
  );
  if (r.rows.length < 2) return null;
  const [prev, cur] = r.rows.map(toTick);
  if (cur.tick !== prev.tick + 1) throw new FerryError(`ferry.ticks is missing tick ${prev.tick + 1} (between ${prev.tick} and ${cur.tick}): its changes cannot be told apart from their neighbours'. Ticks are only deleted once published; restore the row from a backup, or ask for help before changing ferry.ticks by hand`);
  return { prev, cur };
}

/**
 * Gives the batch between two ticks its positions (first, and the count of its changes) in one
 * statement, fenced as markPublishedIfLeading is: only while the forwarder epoch is still `epoch`,
 * and only if no one stamped the tick before. Returns the epoch that was current and the stamp
 * written (null: fenced, or stamped already).
 */
export async function stampBatch(db: Queryable, prev: Tick, cur: Tick, first: number, epoch: number): Promise<{ epoch: number; cnt: number | null }> {
  const r = await db.query<{ e: string; cnt: string | null }>(
    `with f as (select forwarder_epoch as e from ferry.state for share),
          u as (update ferry.ticks set first_pos = $3, cnt = (select count(*) from ferry.changes c where ${BATCH_WHERE}), epoch = $4
                 where tick = $5 and first_pos is null and (select e from f) = $4
                 returning cnt)
     select (select e from f) as e, (select cnt from u) as cnt`,
    [prev.snap, cur.snap, first, epoch, cur.tick],
  );
  const x = r.rows[0];
  return { epoch: Number(x.e), cnt: x.cnt === null ? null : Number(x.cnt) };
}

/** The tick's positions, if it is stamped. */
export async function stampOf(db: Queryable, tick: number): Promise<{ first: number; cnt: number } | null> {
  const r = await db.query<{ first_pos: string | null; cnt: string | null }>('select first_pos, cnt from ferry.ticks where tick = $1', [tick]);
  const x = r.rows[0];
  return !x || x.first_pos === null ? null : { first: Number(x.first_pos), cnt: Number(x.cnt) };
}

export async function markPublished(db: Queryable, tick: number): Promise<void> {
  await db.query('update ferry.ticks set published_at = clock_timestamp() where tick = $1', [tick]);
}

/**
 * The same as one statement of its own, fenced: it marks the tick only while the forwarder epoch is
 * still `epoch`, holding the epoch's row (for share, as the fence in a transaction does) until it
 * commits. Returns the epoch that was current: a newer one means nothing was marked.
 */
export async function markPublishedIfLeading(db: Queryable, tick: number, epoch: number): Promise<number> {
  const r = await db.query<{ e: string }>(
    `with f as (select forwarder_epoch as e from ferry.state for share)
     update ferry.ticks set published_at = clock_timestamp() where tick = $1 and (select e from f) = $2
     returning (select e from f) as e`,
    [tick, epoch],
  );
  if (r.rows.length) return Number(r.rows[0].e);
  const now = await db.query<{ e: string }>('select forwarder_epoch as e from ferry.state');
  return Number(now.rows[0].e);
}

/** Cuts a tick when changes wait (ferry.tick): the new tick, or null, and how many ids wait. */
export async function cutTick(db: Queryable, minChanges: number): Promise<{ tick: number | null; pending: number }> {
  const r = await db.query<{ tick: string | null; pending: string }>('select tick, pending from ferry.tick(false, $1)', [minChanges]);
  const row = r.rows[0];
  return { tick: row.tick === null ? null : Number(row.tick), pending: Number(row.pending) };
}

/** How many change ids were drawn since the last tick (an upper bound of the changes waiting). */
export async function pendingSinceLastTick(db: Queryable): Promise<number> {
  const r = await db.query<{ n: string }>(
    `select (case when s.is_called then s.last_value else 0 end) - coalesce((select last_id from ferry.ticks order by tick desc limit 1), 0) as n from ferry.change_id_seq s`,
  );
  return Number(r.rows[0].n);
}

/** Published ticks are kept for a while (for `ferry status` and diagnosis), then deleted. */
export async function forgetOldTicks(db: Queryable, keep: number): Promise<void> {
  await db.query(
    `delete from ferry.ticks where published_at is not null
        and tick < (select max(tick) from ferry.ticks where published_at is not null) - $1`,
    [keep],
  );
}

export interface ForwardState {
  publishedPos: number;
  lastTick: number;
  pendingTicks: number;
  /** Change ids handed out since the last tick (not yet in any batch). */
  unticked: number;
  lastPublishedAt: Date | null;
  forwarderEpoch: number;
}

export async function forwardState(db: Queryable): Promise<ForwardState> {
  const r = await db.query(
    `select ${PUBLISHED_POS_SQL} as published, max(tick) as last_tick, count(*) filter (where published_at is null) as pending,
            max(published_at) as last_pub,
            (select case when is_called then last_value else 0 end from ferry.change_id_seq) - (select last_id from ferry.ticks order by tick desc limit 1) as unticked,
            (select forwarder_epoch from ferry.state) as epoch
       from ferry.ticks`,
  );
  const x = r.rows[0];
  return {
    publishedPos: Number(x.published),
    lastTick: Number(x.last_tick),
    pendingTicks: Number(x.pending),
    unticked: Math.max(0, Number(x.unticked)),
    lastPublishedAt: x.last_pub ? new Date(x.last_pub) : null,
    forwarderEpoch: Number(x.epoch),
  };
}

/**
 * In the snapshot of a bootstrap copy: the end of the last stamped batch it holds (every change up
 * to there is visible in it), with that tick. Changes after it may be visible too: they are told
 * by xid.
 */
export async function stampedEnd(db: Queryable): Promise<{ pos: number; tick: number | null }> {
  const r = await db.query<{ pos: string; tick: string | null }>(
    `select coalesce(max(first_pos + cnt - 1), 0) as pos, max(tick) as tick from ferry.ticks where first_pos is not null`,
  );
  return { pos: Number(r.rows[0].pos), tick: r.rows[0].tick === null ? null : Number(r.rows[0].tick) };
}

/**
 * The last position of this origin's stream at or below which every change visible in all the
 * given snapshots lies: the end of the last published batch, if its tick's snapshot holds every
 * such change (a published change the pruner emptied away is in it or before it); null while one
 * of them is still in no published batch (ask again once the forwarder published more).
 */
export async function coveringEnd(db: Queryable, snaps: string[]): Promise<number | null> {
  const r = await db.query<{ end_pos: string; covers: boolean }>(
    `select t.first_pos + t.cnt - 1 as end_pos,
            not exists (select 1 from ferry.changes c, unnest($1::pg_snapshot[]) s
                         where c.xid >= pg_snapshot_xmin(t.snap) and pg_visible_in_snapshot(c.xid, s) and not pg_visible_in_snapshot(c.xid, t.snap)) as covers
       from ferry.ticks t where t.published_at is not null order by t.tick desc limit 1`,
    [snaps],
  );
  const x = r.rows[0];
  return x && x.covers ? Number(x.end_pos) : null;
}

/**
 * `ferry lineage accept` in a database whose transaction ids are another cluster's (a copy made by
 * pg_dump or logical replication): the ticks' snapshots and the captured changes name the old
 * cluster's xids, which order nothing here. Changes whose xid this cluster has not handed out yet
 * take the accepting transaction's own xid (they were committed there, and now commit with it), and
 * a tick that sees no xid at all starts the chain again: the batch after it is every change the
 * change tables hold, whatever cluster captured it. A change already published may be sent again
 * (under a new position, with its version: the peers' merge keeps one), none is lost.
 */
export async function bridgeXidSpaces(db: Queryable, nextXid: string): Promise<{ tick: number; moved: number }> {
  const moved = await db.query('update ferry.changes set xid = pg_current_xact_id() where xid >= $1::xid8', [nextXid]);
  const r = await db.query<{ tick: string }>(
    `insert into ferry.ticks (tick, snap, last_id)
     select (select max(tick) + 1 from ferry.ticks), '3:3:'::pg_snapshot, (select case when is_called then last_value else 0 end from ferry.change_id_seq)
     returning tick`,
  );
  return { tick: Number(r.rows[0].tick), moved: moved.rowCount ?? 0 };
}
