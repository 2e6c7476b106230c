import { PoolClient } from 'pg';
import { FerryError } from '../common/errors';
import { Queryable } from '../common/db';
import { Change, Op } from '../protocol/envelope';
import { pickMembersAny } from '../protocol/json-scan';
import { declareBatchCursor, selectBatch } from '../tables/changes';
import type { Tick } from '../tables/ticks';
import { TrackedTable, trackedTables } from '../tables/tracked';

type Row = {
  pos: string;
  id: string;
  xid: string;
  tbl: number;
  op: Op;
  row: string | null;
  old: string | null;
  json_text: Record<string, string> | null;
  hlc: string | null;
  counters: Record<string, Record<string, string>> | null;
  tx_end: boolean;
};

/**
 * Streams one batch in its canonical order (§3.2): transactions by their largest change id,
 * changes inside a transaction by id. The order depends only on committed, immutable rows, so
 * reading the batch again yields the same positions. Row images are read as text and travel as
 * PostgreSQL wrote them; only the key columns are sliced out of them. A batch of at most `chunk`
 * changes (`count`, as stamped) is one statement; a larger one goes through a cursor, `chunk` at a time.
 */
export async function* readBatch(client: PoolClient, prev: Tick, cur: Tick, firstPos: number, chunk: number, count = Infinity): AsyncGenerator<Change[]> {
  const tables = new TableCache(client);
  const at = cur.createdAt.toISOString();
  if (count <= chunk) {
    // one round trip instead of four (begin, declare, fetch, rollback): on the way of every batch
    const rows = await selectBatch<Row>(client, prev, cur, firstPos);
    if (rows.length) yield await toChanges(rows, tables, at);
    return;
  }
  await client.query('begin isolation level repeatable read read only');
  try {
    await declareBatchCursor(client, 'ferry_batch', prev, cur, firstPos);
    for (;;) {
      const r = await client.query<Row>(`fetch ${chunk} from ferry_batch`);
      if (!r.rows.length) break;
      yield await toChanges(r.rows, tables, at);
      // a short chunk is the cursor's last: no round trip to hear it say so
      if (r.rows.length < chunk) break;
    }
  } finally {
    await client.query('rollback').catch(() => undefined);
  }
}

async function toChanges(rows: Row[], tables: TableCache, at: string): Promise<Change[]> {
  const out: Change[] = [];
  for (const x of rows) {
    const t = await tables.get(Number(x.tbl));
    const change: Change = {
      pos: Number(x.pos),
      id: Number(x.id),
      xid: x.xid,
      txEnd: x.tx_end,
      table: t.name,
      op: x.op,
      // D: the row image is the key itself
      // under the names the image has (a key column renamed: see TrackedTable.keyNames)
      key: x.op === 'T' || x.row === null ? null : keyOf(x.row, t, x),
      row: x.op === 'D' || x.op === 'T' ? null : x.row,
      old: x.old === null ? null : keyOf(x.old, t, x),
      at,
      // changes captured before versions existed are older than any versioned one
      ms: x.hlc === null ? 0 : Number(x.hlc),
    };
    if (x.op === 'T' && x.row !== null) change.partition = (JSON.parse(x.row) as { partition: string }).partition;
    if (x.json_text) change.jsonText = x.json_text;
    if (x.counters) change.counters = x.counters;
    out.push(change);
  }
  return out;
}

function keyOf(image: string, t: TrackedTable, x: Row): string {
  try {
    return pickMembersAny(image, t.keyNames);
  } catch (e) {
    throw new FerryError(
      `change ${x.id} of ${t.name} (position ${x.pos}) has no key column ${t.keyCols.join(', ')} under any name it had: ${(e as Error).message}. ` +
        `Was the key changed? Give the table its key back (or run \`ferry track\` with --key for the new one), then restart the forwarder`,
    );
  }
}

class TableCache {
  private byOid = new Map<number, TrackedTable>();
  constructor(private readonly db: Queryable) {}
  async get(oid: number): Promise<TrackedTable> {
    let t = this.byOid.get(oid);
    if (!t) {
      for (const x of await trackedTables(this.db)) this.byOid.set(x.oid, x);
      t = this.byOid.get(oid);
      if (!t) {
        throw new FerryError(
          `a captured change is of table oid ${oid}, which is not in ferry.tracked (its row was deleted by hand?); the change cannot be named on the wire. Run \`ferry track\` for that table again (select ${oid}::regclass names it), then restart the forwarder`,
        );
      }
    }
    return t;
  }
}
