import type { Queryable } from '../common/db';
import { quoteIdent } from '../common/db';
import type { Change } from '../protocol/envelope';
import { memberNames } from '../protocol/json-scan';
import { jsonTextColumns, keyColumns, keyMatch, keysParam, recordset, rowsParam, valueOf, writableColumns } from './rows';
import { TableCatalog, TableInfo } from './table-info';

type Kind = 'upsert' | 'delete' | 'rekey' | 'truncate';
const kindOf = (c: Change): Kind => (c.op === 'T' ? 'truncate' : c.op === 'D' ? 'delete' : c.old ? 'rekey' : 'upsert');

/**
 * Applies changes in origin order, each as the origin made it: the path for TRUNCATE and key
 * changes, and for finding the change at fault after a group failed. Consecutive changes of one
 * kind to one table (and one column set) still go as one statement.
 */
export async function applyInOrder(db: Queryable, catalog: TableCatalog, origin: string, changes: Change[]): Promise<void> {
  for (const run of runs(changes)) {
    const where = { pos: run.changes[0].pos };
    if (run.kind === 'truncate') {
      // one TRUNCATE statement for consecutive truncates, as a multi-table TRUNCATE was at the origin
      const names = [];
      for (const c of run.changes) names.push((await catalog.get(c.table, where)).sql);
      await db.query(`truncate only ${[...new Set(names)].join(', ')}`);
      continue;
    }
    const t = await catalog.get(run.table, where);
    if (run.kind === 'upsert') await upsert(db, t, origin, run.changes);
    else if (run.kind === 'delete') await remove(db, t, origin, run.changes);
    else for (const c of run.changes) await rekey(db, t, origin, c);
  }
}

interface Run {
  kind: Kind;
  table: string;
  sig: string;
  changes: Change[];
}

function runs(changes: Change[]): Run[] {
  const out: Run[] = [];
  for (const c of changes) {
    const kind = kindOf(c);
    const sig = kind === 'upsert' ? memberNames(c.row!).join('\u0000') : '';
    const last = out[out.length - 1];
    if (last && last.kind === kind && (kind === 'truncate' || (last.table === c.table && last.sig === sig))) last.changes.push(c);
    else out.push({ kind, table: c.table, sig, changes: [c] });
  }
  return out;
}

async function upsert(db: Queryable, t: TableInfo, origin: string, changes: Change[]): Promise<void> {
  const keys = keyColumns(t, origin, changes[0]);
  const write = writableColumns(t, origin, changes[0]);
  const asText = jsonTextColumns(t, write, changes);
  // one statement may not touch a row twice: the last image of each key wins, as it would in sequence
  const last = new Map<string, Change>();
  for (const c of changes) last.set(c.key!, c);
  const list = write.map(quoteIdent).join(', ');
  const set = write.filter((k) => !keys.includes(k) && !t.identityAlways.has(k)).map((k) => `${quoteIdent(k)} = excluded.${quoteIdent(k)}`);
  const overriding = write.some((k) => t.identityAlways.has(k)) ? ' overriding system value' : '';
  await db.query(
    `insert into ${t.sql} (${list})${overriding} select ${write.map((k) => valueOf(t, asText, k)).join(', ')} from ${recordset(t, write, '$1', 'x', asText)}
     on conflict (${keys.map(quoteIdent).join(', ')}) do ${set.length ? `update set ${set.join(', ')}` : 'nothing'}`,
    [rowsParam([...last.values()], asText)],
  );
}

async function remove(db: Queryable, t: TableInfo, origin: string, changes: Change[]): Promise<void> {
  const keys = keyColumns(t, origin, changes[0]);
  await db.query(`delete from ${t.sql} t using ${recordset(t, keys, '$1', 'x')} where ${keyMatch(keys)}`, [keysParam(changes.map((c) => c.key!))]);
}

/**
 * A key change is an UPDATE of the key, as at the origin: ON UPDATE CASCADE and ON DELETE CASCADE
 * at this DC then do what they did there. A row the old key no longer finds is written anew.
 */
async function rekey(db: Queryable, t: TableInfo, origin: string, c: Change): Promise<void> {
  const keys = keyColumns(t, origin, c);
  const write = writableColumns(t, origin, c);
  const asText = jsonTextColumns(t, write, [c]);
  const set = write.filter((k) => !t.identityAlways.has(k) || keys.includes(k));
  const r = await db.query(
    `update ${t.sql} t set ${set.map((k) => `${quoteIdent(k)} = ${valueOf(t, asText, k, 'x')}`).join(', ')}
       from ${recordset(t, write, '$1', 'x', asText)}, ${recordset(t, keys, '$2', 'o')}
      where ${keyMatch(keys, 't', 'o')}`,
    [rowsParam([c], asText), keysParam([c.old!])],
  );
  if (r.rowCount === 0) await upsert(db, t, origin, [c]);
}
