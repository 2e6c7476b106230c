import type { Queryable } from '../common/db';

export interface AppliedState {
  origin: string;
  pos: number;
  seenPos: number;
  offset: string | null;
  status: 'running' | 'stopped';
  error: string | null;
  errorKind: 'gap' | 'error' | null;
  errorPos: number | null;
  sourceAt: Date | null;
  appliedAt: Date | null;
}

export async function readApplied(db: Queryable, origin: string): Promise<AppliedState> {
  const r = await db.query(`select * from ferry.applied where origin = $1`, [origin]);
  const x = r.rows[0];
  if (!x) return { origin, pos: 0, seenPos: 0, offset: null, status: 'running', error: null, errorKind: null, errorPos: null, sourceAt: null, appliedAt: null };
  return {
    origin,
    pos: Number(x.pos),
    seenPos: Number(x.seen_pos),
    offset: x.transport_offset,
    status: x.status,
    error: x.error,
    errorKind: x.error_kind,
    errorPos: x.error_pos === null ? null : Number(x.error_pos),
    sourceAt: x.source_at,
    appliedAt: x.applied_at,
  };
}

/** Records that an origin's stream is stopped and why (shown by `ferry status`). */
export async function stopStream(db: Queryable, origin: string, err: Error, pos: number, kind: 'gap' | 'error'): Promise<void> {
  await db.query(
    `insert into ferry.applied (origin, status, error, error_kind, error_pos, error_at) values ($1, 'stopped', $2, $3, $4, clock_timestamp())
     on conflict (origin) do update set status = 'stopped', error = excluded.error, error_kind = excluded.error_kind,
                                        error_pos = excluded.error_pos, error_at = excluded.error_at`,
    [origin, err.message, kind, pos],
  );
}

/** `ferry resume`: lets a stopped stream try again from its applied position. */
export async function resumeStream(db: Queryable, origin: string): Promise<boolean> {
  const r = await db.query(`update ferry.applied set status = 'running', error = null, error_kind = null, error_pos = null, error_at = null where origin = $1 and status = 'stopped'`, [origin]);
  return r.rowCount === 1;
}

/** `ferry skip`: the change at pos is not applied; who asked and why is kept in ferry.skips. */
export async function skipChange(db: Queryable, origin: string, pos: number, reason: string | undefined): Promise<void> {
  const st = await readApplied(db, origin);
  if (pos <= st.pos) throw new Error(`position ${pos} of ${origin} is already applied (applied up to ${st.pos}); nothing to skip`);
  await db.query(`insert into ferry.skips (origin, pos, reason) values ($1, $2, $3) on conflict (origin, pos) do update set reason = excluded.reason, requested_at = now()`, [origin, pos, reason ?? null]);
  await resumeStream(db, origin);
}
