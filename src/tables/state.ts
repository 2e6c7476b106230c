import type { Queryable } from '../common/db';
import type { EpochStore } from '../common/leadership';

/** ferry.state: the one row of this DC's capture-side state. */

/** The forwarder's epoch (fencing, see common/leadership.ts). */
export const forwarderEpochs: EpochStore = {
  async bump(db) {
    const r = await db.query<{ e: string }>('update ferry.state set forwarder_epoch = forwarder_epoch + 1 returning forwarder_epoch as e');
    return Number(r.rows[0].e);
  },
  async current(db) {
    const r = await db.query<{ e: string }>('select forwarder_epoch as e from ferry.state for share');
    return Number(r.rows[0].e);
  },
};

/** How old the current change table is, and how many changes went to it. */
export async function rotationState(db: Queryable): Promise<{ ageMs: number; changes: number }> {
  const r = await db.query<{ age_ms: number; since: string }>(
    `select extract(epoch from clock_timestamp() - rotated_at) * 1000 as age_ms,
            (select case when is_called then last_value else 0 end from ferry.change_id_seq) - rotated_at_id as since
       from ferry.state`,
  );
  return { ageMs: Number(r.rows[0].age_ms), changes: Number(r.rows[0].since) };
}

/** What the stream's positions were recorded in (ferry.state, migration 0009): see forward/lineage.ts. */
export interface RecordedIdentity {
  /** pg_control_system().system_identifier when recorded; null until first known. */
  systemIdentifier: string | null;
  /** The WAL timeline the database was on when recorded; null until first known. */
  timeline: number | null;
  lineage: string;
  /** Positions up to here are the parent lineage's, change for change (0: a lineage of its own). */
  since: number;
  parent: string | null;
}

/** The database as it is now: which cluster, which timeline, and the next xid it hands out. */
export interface CurrentIdentity {
  systemIdentifier: string | null;
  timeline: number | null;
  nextXid: string;
}

export async function recordedIdentity(db: Queryable): Promise<RecordedIdentity> {
  const r = await db.query<{ system_identifier: string | null; timeline: string | null; lineage: string; lineage_since: string; lineage_parent: string | null }>(
    'select system_identifier, timeline, lineage, lineage_since, lineage_parent from ferry.state',
  );
  const x = r.rows[0];
  return { systemIdentifier: x.system_identifier, timeline: x.timeline === null ? null : Number(x.timeline), lineage: x.lineage, since: Number(x.lineage_since), parent: x.lineage_parent };
}

/**
 * Reads the cluster's identity. The timeline is the one WAL is written on now (the first 8 hex
 * digits of the current WAL file's name): right after a promotion pg_control_checkpoint() still
 * names the old one until the next checkpoint. A database that does not let this role read one of
 * them (some managed services) gives null for it, and that check is not made.
 */
export async function currentIdentity(db: Queryable): Promise<CurrentIdentity> {
  const one = async <T>(sql: string): Promise<T | null> => {
    try {
      return (await db.query<{ v: T }>(`select (${sql}) as v`)).rows[0].v;
    } catch {
      return null;
    }
  };
  const systemIdentifier = await one<string>('select system_identifier::text from pg_control_system()');
  const timeline =
    (await one<string>(`select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint`)) ??
    (await one<string>('select timeline_id::bigint from pg_control_checkpoint()'));
  const nextXid = (await db.query<{ x: string }>('select pg_snapshot_xmax(pg_current_snapshot())::text as x')).rows[0].x;
  return { systemIdentifier, timeline: timeline === null ? null : Number(timeline), nextXid };
}

/** `ferry init`: records what is not known yet (never overwrites: a change is for the forwarder to notice). */
export async function recordIdentityIfUnknown(db: Queryable): Promise<void> {
  const now = await currentIdentity(db);
  await db.query(
    `update ferry.state set system_identifier = coalesce(system_identifier, $1), timeline = coalesce(timeline, $2),
            lineage = coalesce(lineage, gen_random_uuid()::text), lineage_at = coalesce(lineage_at, clock_timestamp())`,
    [now.systemIdentifier, now.timeline],
  );
}

/** The largest xid any tick of this database's stream has seen handed out (its snapshot's xmax), in this cluster's xids. */
export async function tickedXidHigh(db: Queryable): Promise<string> {
  const r = await db.query<{ x: string | null }>('select max(pg_snapshot_xmax(snap))::text as x from ferry.ticks where tick >= (select xid_base_tick from ferry.state)');
  return r.rows[0].x ?? '0';
}

/** `ferry lineage accept` at the origin: the database as it is now starts a new lineage forked at `since`. */
export async function startLineage(db: Queryable, now: CurrentIdentity, since: number, xidBaseTick: number | null): Promise<{ lineage: string; parent: string }> {
  const r = await db.query<{ lineage: string; parent: string }>(
    `update ferry.state s set system_identifier = $1, timeline = $2, lineage_parent = s.lineage, lineage = gen_random_uuid()::text,
            lineage_since = $3, lineage_at = clock_timestamp(), xid_base_tick = coalesce($4, s.xid_base_tick)
      returning s.lineage, s.lineage_parent as parent`,
    [now.systemIdentifier, now.timeline, since, xidBaseTick],
  );
  return r.rows[0];
}
