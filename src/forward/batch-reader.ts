import { PoolClient } from 'pg';
import { Change, Op, RowImage } from '../protocol/envelope';
import { TrackedTable, trackedTables } from '../capture/track';
import { Queryable } from '../common/db';

export interface Tick {
  tick: number;
  snap: string;
  firstPos: number | null;
  cnt: number | null;
  createdAt: Date;
}

const TICK_COLS = `tick, snap::text as snap, first_pos, cnt, created_at`;
const toTick = (r: { tick: string; snap: string; first_pos: string | null; cnt: string | null; created_at: Date }): Tick => ({
  tick: Number(r.tick),
  snap: r.snap,
  firstPos: r.first_pos === null ? null : Number(r.first_pos),
  cnt: r.cnt === null ? null : Number(r.cnt),
  createdAt: r.created_at,
});

/** The oldest tick whose batch is not yet published, with the tick before it. */
export async function nextBatch(db: Queryable): Promise<{ prev: Tick; cur: Tick } | null> {
  const r = await db.query(
    `select ${TICK_COLS} from ferry.ticks
      where tick >= (select min(tick) from ferry.ticks where published_at is null) - 1
      order by tick limit 2`,
  );
  if (r.rows.length < 2) return null;
  const [prev, cur] = r.rows.map(toTick);
  if (cur.tick !== prev.tick + 1) throw new Error(`ferry.ticks is missing tick ${prev.tick + 1}`);
  return { prev, cur };
}

// Changes committed between two ticks (§3.1); the xid range lets the index on xid do the work.
const BATCH_WHERE = `c.xid >= pg_snapshot_xmin($1::pg_snapshot) and c.xid < pg_snapshot_xmax($2::pg_snapshot)
   and pg_visible_in_snapshot(c.xid, $2::pg_snapshot) and not pg_visible_in_snapshot(c.xid, $1::pg_snapshot)`;

export async function countBatch(db: Queryable, prev: Tick, cur: Tick): Promise<number> {
  const r = await db.query<{ n: string }>(`select count(*) as n from ferry.changes c where ${BATCH_WHERE}`, [prev.snap, cur.snap]);
  return Number(r.rows[0].n);
}

/**
 * Streams one batch in its canonical order (§3.2): transactions by their largest change id,
 * changes inside a transaction by id. The order depends only on committed, immutable rows, so
 * reading the batch again yields the same positions.
 */
export async function* readBatch(client: PoolClient, prev: Tick, cur: Tick, firstPos: number, chunk: number): AsyncGenerator<Change[]> {
  const tables = new TableCache(client);
  await client.query('begin isolation level repeatable read read only');
  try {
    await client.query(
      `declare ferry_batch no scroll cursor for
       select $3::bigint + row_number() over (order by txmax, id) - 1 as pos, id, xid::text as xid, tbl::oid as tbl, op, row, old, json_text, id = txmax as tx_end
         from (select c.id, c.xid, c.tbl, c.op, c.row, c.old, c.json_text, max(c.id) over (partition by c.xid) as txmax
                 from ferry.changes c where ${BATCH_WHERE}) b
        order by txmax, id`,
      [prev.snap, cur.snap, firstPos],
    );
    const at = cur.createdAt.toISOString();
    for (;;) {
      const r = await client.query(`fetch ${chunk} from ferry_batch`);
      if (!r.rows.length) break;
      const out: Change[] = [];
      for (const x of r.rows) {
        const t = await tables.get(Number(x.tbl));
        const op = x.op as Op;
        const row = x.row as RowImage | null;
        const change: Change = {
          pos: Number(x.pos),
          id: Number(x.id),
          xid: x.xid,
          txEnd: x.tx_end,
          table: t.name,
          op,
          key: op === 'T' || !row ? null : pick(row, t.keyCols),
          row: op === 'D' ? null : row,
          old: x.old as RowImage | null,
          at,
        };
        if (x.json_text) change.jsonText = x.json_text as Record<string, string>;
        out.push(change);
      }
      yield out;
    }
  } finally {
    await client.query('rollback').catch(() => undefined);
  }
}

function pick(row: RowImage, cols: string[]): RowImage {
  const k: RowImage = {};
  for (const c of cols) k[c] = row[c];
  return k;
}

class TableCache {
  private byOid = new Map<number, TrackedTable>();
  constructor(private readonly db: Queryable) {}
  async get(oid: number): Promise<TrackedTable> {
    let t = this.byOid.get(oid);
    if (!t) {
      for (const x of await trackedTables(this.db)) this.byOid.set(x.oid, x);
      t = this.byOid.get(oid);
      if (!t) throw new Error(`change for table oid ${oid}, which is not in ferry.tracked`);
    }
    return t;
  }
}
