import type { Queryable } from '../common/db';

/** ferry.skips: changes an operator chose not to apply (`ferry skip`), with who, why and what. */

export async function pendingSkips(db: Queryable, origin: string): Promise<Set<number>> {
  const r = await db.query<{ pos: string }>('select pos from ferry.skips where origin = $1 and applied_at is null', [origin]);
  return new Set(r.rows.map((x) => Number(x.pos)));
}

/** Inside the destination transaction that passes over the change: keeps the change itself. */
export async function recordSkipped(db: Queryable, origin: string, pos: number, changeJson: string): Promise<void> {
  await db.query('update ferry.skips set applied_at = now(), change = $3::jsonb where origin = $1 and pos = $2', [origin, pos, changeJson]);
}

export async function requestSkip(db: Queryable, origin: string, pos: number, reason: string | null): Promise<void> {
  await db.query(`insert into ferry.skips (origin, pos, reason) values ($1, $2, $3) on conflict (origin, pos) do update set reason = excluded.reason, requested_at = now()`, [
    origin,
    pos,
    reason,
  ]);
}
