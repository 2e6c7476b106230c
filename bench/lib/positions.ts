// Ferry's own bookkeeping, read from the outside: what an origin has published (ferry.ticks) and
// what a destination has applied (ferry.applied) — the positions of DESIGN.md §3.3 and §3.4.
import type { Client } from 'pg';

/** Every change of `origin` up to this position is applied in the destination `dest`. */
export async function appliedPos(dest: Client, origin: string): Promise<number> {
  const r = await dest.query<{ pos: string }>('select pos from ferry.applied where origin = $1', [origin]);
  return Number(r.rows[0]?.pos ?? 0);
}

/**
 * The origin's published position, and whether it covers the transaction `xid`: a tick whose
 * snapshot sees that transaction is published, so it and everything committed before it is in the
 * transport (ticks are published in order).
 */
export async function published(origin: Client, xid?: string): Promise<{ pos: number; covers: boolean }> {
  const r = await origin.query<{ pos: string; covers: boolean }>(
    `select (select coalesce(max(first_pos + cnt - 1), 0) from ferry.ticks where published_at is not null) as pos,
            ($1::xid8 is not null and exists (select 1 from ferry.ticks where published_at is not null and pg_visible_in_snapshot($1::xid8, snap))) as covers`,
    [xid ?? null],
  );
  return { pos: Number(r.rows[0].pos), covers: r.rows[0].covers };
}

/**
 * Lag of a destination that has applied up to `applied`: the age (origin's clock) of the oldest
 * change it has not applied — the creation time of the first tick that is still unpublished or
 * holds a position beyond `applied`. Zero when it has everything that is ticked. The tick is cut
 * at most one tick interval after the commit, so this is short of the commit age by that much.
 */
export async function lagSeconds(origin: Client, applied: number): Promise<number> {
  const r = await origin.query<{ lag: string | null }>(
    `select extract(epoch from clock_timestamp() - created_at) as lag from ferry.ticks
      where tick > 0 and (published_at is null or (cnt > 0 and first_pos + cnt - 1 > $1))
      order by tick limit 1`,
    [applied],
  );
  return r.rows.length ? Math.max(0, Number(r.rows[0].lag)) : 0;
}
