import type { Queryable } from '../common/db';

/**
 * ferry.inbox: frames received but not yet applied, kept durably so the transport may forget them
 * (a FIFO queue delivers nothing more while any of its messages is unacknowledged). Rows leave in
 * the destination transaction that applies them.
 */
export async function keepInInbox(db: Queryable, origin: string, frames: { maxPos: number; body: string }[]): Promise<void> {
  if (!frames.length) return;
  await db.query('insert into ferry.inbox (origin, max_pos, body) select $1, m, b from unnest($2::bigint[], $3::text[]) as x(m, b)', [
    origin,
    frames.map((f) => f.maxPos),
    frames.map((f) => f.body),
  ]);
}

/** Frames kept earlier that hold anything above `applied`, in position order. */
export async function inboxAbove(db: Queryable, origin: string, applied: number): Promise<string[]> {
  const r = await db.query<{ body: string }>('select body from ferry.inbox where origin = $1 and max_pos > $2 order by max_pos', [origin, applied]);
  return r.rows.map((x) => x.body);
}

/** Inside the destination transaction that applied up to `pos`. */
export async function removeFromInbox(db: Queryable, origin: string, pos: number): Promise<void> {
  await db.query('delete from ferry.inbox where origin = $1 and max_pos <= $2', [origin, pos]);
}

export async function inboxCount(db: Queryable, origin?: string): Promise<number> {
  const r = await db.query<{ n: string }>('select count(*) as n from ferry.inbox where $1::text is null or origin = $1', [origin ?? null]);
  return Number(r.rows[0].n);
}
