import type { Queryable } from '../common/db';
import { prepared } from '../common/db';
import type { EpochStore } from '../common/leadership';

/**
 * ferry.applied: what this DC has applied of each other origin (DESIGN.md §3.4). The row is updated
 * in the same destination transaction as the applied rows, which makes apply exactly-once in effect.
 */
export interface AppliedState {
  origin: string;
  pos: number;
  tick: number | null;
  seenPos: number;
  offset: string | null;
  status: 'running' | 'stopped';
  error: string | null;
  /**
   * gap: waits and re-reads by itself; schema: tries again by itself every few seconds; error: needs
   * an operator; lineage: frames of a lineage not accepted here (`ferry lineage accept --origin`).
   */
  errorKind: StopKind | null;
  errorAt: Date | null;
  errorPos: number | null;
  sourceAt: Date | null;
  appliedAt: Date | null;
  clockAheadMs: number;
  /** The origin's lineage applied here (null until first seen), its fork, the lineages it replaced. */
  lineage: { id: string | null; since: number; retired: string[] };
  /** The lineage a stopped stream was offered (what `ferry lineage accept --origin` accepts). */
  lineageOffered: { id: string; since: number } | null;
}

export type StopKind = 'gap' | 'schema' | 'error' | 'lineage';

export async function readApplied(db: Queryable, origin: string): Promise<AppliedState> {
  const r = await db.query(`select * from ferry.applied where origin = $1`, [origin]);
  const x = r.rows[0];
  if (!x)
    return {
      origin, pos: 0, tick: null, seenPos: 0, offset: null, status: 'running', error: null, errorKind: null, errorAt: null, errorPos: null, sourceAt: null, appliedAt: null, clockAheadMs: 0,
      lineage: { id: null, since: 0, retired: [] }, lineageOffered: null,
    };
  return {
    origin,
    pos: Number(x.pos),
    tick: x.tick === null ? null : Number(x.tick),
    seenPos: Number(x.seen_pos),
    offset: x.transport_offset,
    status: x.status,
    error: x.error,
    errorKind: x.error_kind,
    errorAt: x.error_at,
    errorPos: x.error_pos === null ? null : Number(x.error_pos),
    sourceAt: x.source_at,
    appliedAt: x.applied_at,
    clockAheadMs: Number(x.clock_ahead_ms ?? 0),
    lineage: { id: x.lineage ?? null, since: Number(x.lineage_since ?? 0), retired: x.lineage_retired ?? [] },
    lineageOffered: x.lineage_offered ? { id: String(x.lineage_offered.id), since: Number(x.lineage_offered.since) } : null,
  };
}

/** Trust on first use: the first lineage of an origin seen here is the one applied (unless one is recorded meanwhile). */
export async function adoptLineage(db: Queryable, origin: string, l: { id: string; since: number }): Promise<void> {
  await db.query('update ferry.applied set lineage = $2, lineage_since = $3 where origin = $1 and lineage is null', [origin, l.id, l.since]);
}

/** A stream stopped by frames of another lineage keeps what it was offered, for the operator to accept. */
export async function offerLineage(db: Queryable, origin: string, l: { id: string; since: number }): Promise<void> {
  await db.query('update ferry.applied set lineage_offered = $2::jsonb where origin = $1', [origin, JSON.stringify({ id: l.id, since: l.since })]);
}

/**
 * `ferry lineage accept --origin`: the offered lineage is the one applied from now on. Positions after
 * its fork are its own: the applied position moves back to the fork if it was past it (what was
 * applied past there stays: `ferry verify` shows it), operator skips past the fork are forgotten
 * (they named other changes), and the tick snapshot and the origin's vector are forgotten (its xids
 * and applied positions after the fork are another history's). null when nothing was offered (or
 * not the lineage `expect` names).
 */
export async function acceptOfferedLineage(db: Queryable, origin: string, expect?: string): Promise<{ id: string; since: number; previous: string | null; pos: number } | null> {
  const r = await db.query<{ id: string; since: string; previous: string | null; pos: string }>(
    `with o as (select a.lineage as previous from ferry.applied a where a.origin = $1 for update)
     update ferry.applied a
        set lineage_retired = case when a.lineage is null or a.lineage = any(a.lineage_retired) then a.lineage_retired else a.lineage_retired || a.lineage end,
            lineage = a.lineage_offered->>'id', lineage_since = (a.lineage_offered->>'since')::bigint,
            pos = least(a.pos, (a.lineage_offered->>'since')::bigint), seen_pos = least(a.seen_pos, (a.lineage_offered->>'since')::bigint),
            snap = null, snap_tick = null, peer_seen = '{}', lineage_offered = null,
            status = 'running', error = null, error_kind = null, error_pos = null, error_at = null
       from o
      where a.origin = $1 and a.lineage_offered is not null and ($2::text is null or a.lineage_offered->>'id' = $2)
      returning a.lineage as id, a.lineage_since as since, o.previous, a.pos`,
    [origin, expect ?? null],
  );
  const x = r.rows[0];
  if (!x) return null;
  await db.query('delete from ferry.skips where origin = $1 and applied_at is null and pos > $2', [origin, Number(x.since)]);
  return { id: x.id, since: Number(x.since), previous: x.previous, pos: Number(x.pos) };
}

/** The applied position of every origin this DC has applied from: its version vector. */
export async function appliedPositions(db: Queryable): Promise<Record<string, number>> {
  const r = await db.query<{ origin: string; pos: string }>('select origin, pos from ferry.applied order by origin');
  return Object.fromEntries(r.rows.map((x) => [x.origin, Number(x.pos)]));
}

/** The applier epoch of one origin (fencing, see common/leadership.ts). */
export function applierEpochs(origin: string): EpochStore {
  return {
    async bump(db) {
      await db.query('insert into ferry.applied (origin) values ($1) on conflict do nothing', [origin]);
      const r = await db.query<{ e: string }>('update ferry.applied set epoch = epoch + 1 where origin = $1 returning epoch as e', [origin]);
      return Number(r.rows[0].e);
    },
    async current(db) {
      const r = await db.query<{ e: string }>('select epoch as e from ferry.applied where origin = $1 for update', [origin]);
      return Number(r.rows[0]?.e ?? -1);
    },
  };
}

export interface AppliedUpTo {
  pos: number;
  /** The tick of the last wholly applied transport message, when one was. */
  tick: number | null;
  offset: string | null;
  sourceAt: string | null;
  seenPos: number;
  /** The origin's vector as of the last batch applied, when known. */
  peerSeen: Record<string, number> | null;
  /** How far ahead of this DC's clock the newest change was stamped (the skew alarm). */
  aheadMs: number;
  /** The newest tick snapshot of the origin whose whole batch is now applied, when one is. */
  snap?: { snap: string; tick: number } | null;
}

/** Moves ferry.applied.snap forward only (a redelivered older frame carries an older one). */
const SNAP_SET = `snap = case when $9::bigint >= coalesce(snap_tick, 0) then coalesce($10::pg_snapshot, snap) else snap end,
            snap_tick = greatest(snap_tick, $9::bigint)`;

/**
 * Inside the destination transaction that applied everything up to `u.pos`; returns the stream's
 * applier epoch, its row locked until commit (the caller's fence, see Leadership.assertEpoch).
 */
export async function recordApplied(db: Queryable, origin: string, u: AppliedUpTo): Promise<number> {
  // prepared: one row, the same plan every time, on the way of every destination commit
  const r = await db.query<{ e: string }>(
    prepared(
      `update ferry.applied set pos = $2, tick = coalesce($3, tick), transport_offset = $4, source_at = $5, applied_at = clock_timestamp(),
            seen_pos = greatest(seen_pos, $6), seen_at = clock_timestamp(), status = 'running', error = null, error_kind = null, error_pos = null, error_at = null,
            peer_seen = ferry.max_vector(peer_seen, $7::jsonb), clock_ahead_ms = $8, ${SNAP_SET}
      where origin = $1
      returning epoch as e`,
      [origin, u.pos, u.tick, u.offset, u.sourceAt, u.seenPos, u.peerSeen ? JSON.stringify(u.peerSeen) : null, u.aheadMs, u.snap?.tick ?? null, u.snap?.snap ?? null],
    ),
  );
  return Number(r.rows[0]?.e ?? -1);
}

/** The origin's vector (and tick snapshot) from a heartbeat or a re-publish at or below the applied position. */
export async function recordPeerSeen(db: Queryable, origin: string, seen: Record<string, number>, snap: { snap: string; tick: number } | null = null): Promise<void> {
  await db.query(
    `update ferry.applied set peer_seen = ferry.max_vector(peer_seen, $2::jsonb),
            snap = case when $3::bigint >= coalesce(snap_tick, 0) then coalesce($4::pg_snapshot, snap) else snap end, snap_tick = greatest(snap_tick, $3::bigint)
      where origin = $1`,
    [origin, JSON.stringify(seen), snap?.tick ?? null, snap?.snap ?? null],
  );
}

/** Each peer's vector as of its last batch applied here: what it had applied of every origin. */
export async function peerVectors(db: Queryable): Promise<Record<string, Record<string, number>>> {
  const r = await db.query<{ origin: string; peer_seen: Record<string, string | number> }>('select origin, peer_seen from ferry.applied');
  return Object.fromEntries(r.rows.map((x) => [x.origin, Object.fromEntries(Object.entries(x.peer_seen ?? {}).map(([k, v]) => [k, Number(v)]))]));
}

/** Records that an origin's stream is stopped and why (shown by `ferry status`). */
export async function stopStream(db: Queryable, origin: string, message: string, pos: number, kind: StopKind): Promise<void> {
  await db.query(
    `insert into ferry.applied (origin, status, error, error_kind, error_pos, error_at) values ($1, 'stopped', $2, $3, $4, clock_timestamp())
     on conflict (origin) do update set status = 'stopped', error = excluded.error, error_kind = excluded.error_kind,
                                        error_pos = excluded.error_pos, error_at = excluded.error_at`,
    [origin, message, kind, pos],
  );
}

/** `ferry resume`: lets a stopped stream try again from its applied position. */
export async function resumeStream(db: Queryable, origin: string): Promise<boolean> {
  const r = await db.query(`update ferry.applied set status = 'running', error = null, error_kind = null, error_pos = null, error_at = null where origin = $1 and status = 'stopped'`, [origin]);
  return r.rowCount === 1;
}

/** Whether a transaction of `origin` is applied here (visible in the applied tick snapshot), and where the stream is. */
export async function transactionApplied(db: Queryable, origin: string, xid: string): Promise<{ applied: boolean; known: boolean; pos: number; status: string; error: string | null }> {
  const r = await db.query<{ ok: boolean | null; pos: string; status: string; error: string | null }>(
    'select snap is not null and pg_visible_in_snapshot($2::xid8, snap) as ok, pos, status, error from ferry.applied where origin = $1',
    [origin, xid],
  );
  const x = r.rows[0];
  if (!x) return { applied: false, known: false, pos: 0, status: 'none', error: null };
  return { applied: x.ok === true, known: true, pos: Number(x.pos), status: x.status, error: x.error };
}

/** A DC's applied state of every origin, as `ferry bootstrap` copies it (read in the copy's snapshot). */
export async function appliedMarks(db: Queryable): Promise<{ origin: string; pos: number; tick: number | null; offset: string | null; snap: string | null; snapTick: number | null; seen: Record<string, number> }[]> {
  const r = await db.query<{ origin: string; pos: string; tick: string | null; transport_offset: string | null; snap: string | null; snap_tick: string | null; peer_seen: Record<string, number> }>(
    'select origin, pos, tick, transport_offset, snap::text as snap, snap_tick, peer_seen from ferry.applied',
  );
  return r.rows.map((x) => ({
    origin: x.origin,
    pos: Number(x.pos),
    tick: x.tick === null ? null : Number(x.tick),
    offset: x.transport_offset,
    snap: x.snap,
    snapTick: x.snap_tick === null ? null : Number(x.snap_tick),
    seen: x.peer_seen ?? {},
  }));
}

/** Where a bootstrapped DC starts each origin's stream (before its appliers ever ran). */
export async function startApplied(
  db: Queryable,
  m: { origin: string; pos: number; tick: number | null; offset: string | null; snap: string | null; snapTick: number | null; seen: Record<string, number> },
): Promise<void> {
  await db.query(
    `insert into ferry.applied (origin, pos, tick, transport_offset, seen_pos, snap, snap_tick, peer_seen, applied_at)
     values ($1, $2, $3, $4, $2, $5::pg_snapshot, $6, $7::jsonb, clock_timestamp())
     on conflict (origin) do update set pos = excluded.pos, tick = excluded.tick, transport_offset = excluded.transport_offset, seen_pos = excluded.seen_pos,
                                        snap = excluded.snap, snap_tick = excluded.snap_tick, peer_seen = excluded.peer_seen, applied_at = excluded.applied_at`,
    [m.origin, m.pos, m.tick, m.offset, m.snap, m.snapTick, JSON.stringify(m.seen)],
  );
}
