import { PoolClient } from 'pg';
import { Change, Op, RowImage } from '../protocol/envelope';
import { declareBatchCursor } from '../tables/changes';
import type { Tick } from '../tables/ticks';
import { TrackedTable, trackedTables } from '../tables/tracked';
import { Queryable } from '../common/db';
import { FerryError } from '../common/errors';

/**
 * Streams one batch in its canonical order (§3.2): transactions by their largest change id,
 * changes inside a transaction by id. The order depends only on committed, immutable rows, so
 * reading the batch again yields the same positions.
 */
export async function* readBatch(client: PoolClient, prev: Tick, cur: Tick, firstPos: number, chunk: number): AsyncGenerator<Change[]> {
  const tables = new TableCache(client);
  await client.query('begin isolation level repeatable read read only');
  try {
    await declareBatchCursor(client, 'ferry_batch', prev, cur, firstPos);
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
      if (!t) throw new FerryError(`a captured change is of table oid ${oid}, which is not in ferry.tracked (its row was deleted by hand?); the change cannot be named on the wire. Run \`ferry track\` for that table again (select ${oid}::regclass names it), then restart the forwarder`);
    }
    return t;
  }
}
