import type { Queryable } from '../common/db';

/**
 * ferry.row_versions: versions of rows that may still meet a concurrent change (DESIGN.md §6).
 * An entry is purged once every peer has applied past it: nothing concurrent with it can still
 * arrive, and a row without an entry is older than anything to come.
 */

/**
 * What every peer has applied, by origin: for origin o, the smallest position of o that each
 * other peer (and o itself needs none) reported as applied in its last batch applied here.
 * Infinity where no other peer exists (with two DCs, the peer's own later changes follow in order).
 */
export function stableThresholds(self: string, peers: string[], vectors: Record<string, Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of [self, ...peers]) {
    let min = Infinity;
    for (const b of peers) if (b !== o) min = Math.min(min, vectors[b]?.[o] ?? 0);
    out[o] = min;
  }
  return out;
}

/** The snapshot of the last published tick of ours that every peer has applied, if any. */
export async function stableSnapshot(db: Queryable, upTo: number): Promise<string | null> {
  if (upTo === Infinity) return (await db.query<{ s: string | null }>('select snap::text as s from ferry.ticks where published_at is not null order by tick desc limit 1')).rows[0]?.s ?? null;
  const r = await db.query<{ s: string }>(
    'select snap::text as s from ferry.ticks where published_at is not null and first_pos + cnt - 1 <= $1 order by tick desc limit 1',
    [upTo],
  );
  return r.rows[0]?.s ?? null;
}

/** Deletes the entries every peer has applied past; returns how many. */
export async function purgeVersions(db: Queryable, self: string, thresholds: Record<string, number>, stable: string | null): Promise<number> {
  const finite = Object.entries(thresholds).filter(([o]) => o !== self);
  const r = await db.query(
    `delete from ferry.row_versions v
      where (v.origin = $1 and $2::pg_snapshot is not null and pg_visible_in_snapshot(v.xid, $2::pg_snapshot))
         or (v.origin <> $1 and v.pos <= (select x.p from unnest($3::text[], $4::float8[]) as x(o, p) where x.o = v.origin))`,
    [self, stable, finite.map(([o]) => o), finite.map(([, p]) => p)],
  );
  return r.rowCount ?? 0;
}

/** Conflicts are kept `days` days (0: for ever). */
export async function forgetOldConflicts(db: Queryable, days: number): Promise<number> {
  if (!days) return 0;
  const r = await db.query(`delete from ferry.conflicts where resolved_at < now() - make_interval(secs => $1)`, [days * 86400]);
  return r.rowCount ?? 0;
}
