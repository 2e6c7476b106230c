import type { Client } from 'pg';
import { appliedMarks } from '../tables/applied';
import { CopiedTable, OriginMark, recordCopied } from '../tables/bootstrap';
import { readCounters, writeCounters } from '../tables/counters';
import { knownVersions, writeCopiedVersions } from '../tables/row-versions';
import { stampedEnd } from '../tables/ticks';
import type { SourceTable } from './catalog';
import { copyTable } from './copy';
import type { Progress } from './progress';

export interface GroupCopy {
  src: Client;
  dst: Client;
  /** The DC copied from. */
  source: string;
  /** This DC. */
  self: string;
  /** Each table's oid here. */
  oids: Map<string, number>;
  progress: Progress;
  /** Called as rows stream (test failpoints hook in here). */
  onRows?: (n: number) => void;
}

/** The capture triggers `ferry track` installs (src/capture/functions/03_track.sql). */
const CAPTURE_TRIGGERS = ['ferry_capture', 'ferry_capture_truncate'];

/**
 * Copies tables linked by foreign keys (or one table) inside ONE REPEATABLE READ transaction at the
 * source and ONE transaction here. Read in the same snapshot as the rows: what the source had
 * applied of every origin (where this DC's stream of each starts for these tables), the end of its
 * own last stamped batch (the rest is told by xid), its clock, the versions it knows of these rows
 * and its counter shares. Recorded here with the rows, so a rerun after a crash skips them.
 * Returns the rows copied and the source's clock.
 */
export async function copyGroup(g: GroupCopy, tables: SourceTable[]): Promise<{ rows: number; clockMs: number }> {
  const { src, dst, source, self } = g;
  await src.query('begin isolation level repeatable read read only');
  try {
    // the first statement takes the transaction's snapshot: this one
    const snap = (await src.query<{ s: string }>('select pg_current_snapshot()::text as s')).rows[0].s;
    const marks = await appliedMarks(src);
    const end = await stampedEnd(src);
    const clockMs = Number((await src.query<{ c: string }>(`select pg_sequence_last_value('ferry.clock') as c`)).rows[0].c ?? 0);
    const applied: Record<string, OriginMark> = {};
    for (const m of marks) if (m.origin !== self) applied[m.origin] = { pos: m.pos, tick: m.tick, offset: m.offset, snap: m.snap, snapTick: m.snapTick, seen: m.seen };
    const vector = Object.fromEntries(marks.map((m) => [m.origin, m.pos]));
    applied[source] = { pos: end.pos, tick: end.tick, offset: null, snap, snapTick: end.tick, seen: vector };
    const totals = new Map<string, number>();
    // about how many rows, for the progress bar only: the planner's count (a size-based guess for a
    // table never analyzed), not count(*), which read every table once more before the copy
    for (const t of tables) totals.set(t.name, await rowEstimate(src, t.sql));

    await dst.query('begin');
    let rows = 0;
    try {
      // rows of a bootstrap are not captured again here (nor sent back)
      await dst.query(`select set_config('ferry.origin', $1, true)`, [source]);
      await dst.query('set constraints all deferred');
      for (const t of tables) {
        const oid = g.oids.get(t.name)!;
        const quiet = await captureOff(dst, t);
        g.progress.table(t.name, totals.get(t.name)!);
        const n = await copyTable(src, dst, t, (k) => {
          g.progress.rows(k);
          g.onRows?.(k);
        });
        g.progress.done();
        rows += n;
        await writeCopiedVersions(dst, oid, await knownVersions(src, t, source));
        await writeCounters(dst, oid, await readCounters(src, t.oid));
        const copied: CopiedTable = { table: t.name, snap, applied, rows: n };
        await recordCopied(dst, copied);
        if (quiet) await dst.query(`alter table ${t.sql} ${CAPTURE_TRIGGERS.map((x) => `enable trigger ${x}`).join(', ')}`);
      }
      await dst.query('commit');
    } catch (e) {
      await dst.query('rollback').catch(() => undefined);
      throw e;
    }
    return { rows, clockMs };
  } finally {
    await src.query('rollback').catch(() => undefined);
  }
}

/**
 * Switches the capture triggers off for this transaction (ALTER TABLE: the table is locked until
 * commit, so no other write can slip by uncaptured). Each row would otherwise call the trigger,
 * which only returns (ferry.origin is set), and queue an after-trigger event. Needs the table's
 * owner; without that the triggers stay and the copy is a little slower.
 */
async function captureOff(dst: Client, t: SourceTable): Promise<boolean> {
  const present = await dst.query<{ n: number }>('select count(*)::int as n from pg_trigger where tgrelid = $1::regclass and tgname = any($2)', [t.name, CAPTURE_TRIGGERS]);
  if (present.rows[0].n !== CAPTURE_TRIGGERS.length) return false;
  await dst.query('savepoint ferry_triggers');
  try {
    await dst.query(`alter table ${t.sql} ${CAPTURE_TRIGGERS.map((x) => `disable trigger ${x}`).join(', ')}`);
    await dst.query('release savepoint ferry_triggers');
    return true;
  } catch (e) {
    if ((e as { code?: string }).code !== '42501') throw e;
    await dst.query('rollback to savepoint ferry_triggers');
    return false;
  }
}

/** The planner's row count of a table (its leaf partitions'), or a guess from its size when never analyzed. */
async function rowEstimate(src: Client, table: string): Promise<number> {
  const r = await src.query<{ n: string }>(
    `select coalesce(sum(case when c.reltuples >= 0 then c.reltuples else pg_relation_size(c.oid) / 100 end), 0)::bigint as n
       from pg_partition_tree($1::regclass) p join pg_class c on c.oid = p.relid where p.isleaf`,
    [table],
  );
  return Number(r.rows[0].n);
}
