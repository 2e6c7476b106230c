import type { Queryable } from '../common/db';
import { sleep } from '../common/sleep';
import { appliedPositions } from '../tables/applied';
import { coveringEnd } from '../tables/ticks';

/**
 * What one DC had when `ferry verify` read it: its snapshot and what it had applied of every other
 * origin. Read in the same REPEATABLE READ transaction as the rows.
 */
export interface Mark {
  dc: string;
  snap: string;
  vector: Record<string, number>;
}

export interface Side {
  dc: string;
  db: Queryable;
}

/** Inside the reading transaction, before anything else (its first statement takes the snapshot). */
export async function readMark(side: Side): Promise<Mark> {
  const snap = (await side.db.query<{ s: string }>('select pg_current_snapshot()::text as s')).rows[0].s;
  return { dc: side.dc, snap, vector: await appliedPositions(side.db) };
}

/**
 * Waits until each DC has applied everything the other had at its read: the other's own changes
 * committed by then (up to the end of a batch the other has published that holds them) and every
 * third origin's changes the other had applied. A difference read before that may be a change in
 * flight; one that is still there after, on rows neither side wrote meanwhile, is real.
 * Returns null when done, else why not (in time).
 */
export async function waitPast(a: Side, b: Side, ma: Mark, mb: Mark, deadline: number): Promise<string | null> {
  const want = async (x: Side, mx: Mark, y: Side): Promise<Record<string, number> | string> => {
    let end: number | null;
    while ((end = await coveringEnd(x.db, [mx.snap])) === null) {
      if (Date.now() > deadline) return `${x.dc} has not published its changes since the read (is \`ferry run\` running there?)`;
      await sleep(50);
    }
    const t: Record<string, number> = { [x.dc]: end };
    for (const [o, p] of Object.entries(mx.vector)) if (o !== y.dc) t[o] = Math.max(t[o] ?? 0, p);
    return t;
  };
  const forB = await want(a, ma, b);
  if (typeof forB === 'string') return forB;
  const forA = await want(b, mb, a);
  if (typeof forA === 'string') return forA;
  for (;;) {
    const lag = [...(await behind(b, forB)), ...(await behind(a, forA))];
    if (!lag.length) return null;
    if (Date.now() > deadline) return `not caught up in time: ${lag.join('; ')}`;
    await sleep(50);
  }
}

async function behind(s: Side, target: Record<string, number>): Promise<string[]> {
  const have = await appliedPositions(s.db);
  return Object.entries(target)
    .filter(([o, p]) => p > 0 && (have[o] ?? 0) < p)
    .map(([o, p]) => `${s.dc} has applied ${o} up to ${have[o] ?? 0}, not yet ${p}`);
}
