import type { Queryable } from '../common/db';
import type { Change } from '../protocol/envelope';
import { memberSignature } from '../protocol/json-scan';
import { deleteRows, insertRows, LocalRow, readLocal, updateRows } from './bulk-sql';
import { segments, TableFinals } from './collapse';
import { LocalWriteRace } from './local-write-race';
import { parentsFirst } from './fk-order';
import { jsonTextColumns, keyColumns, keyIndex, writableColumns } from './rows';
import { applyInOrder } from './serial-sql';
import type { TableCatalog, TableInfo } from './table-info';

interface Planned {
  t: TableInfo;
  f: TableFinals;
  keys: string[];
  local: Map<number, LocalRow>;
  /** finals in the order read: upserts, then deletes */
  all: Change[];
}

/**
 * Writes a group of changes (whole source transactions, in position order) inside the open
 * destination transaction (DESIGN.md §3.5): each bulk segment collapsed to the final state of its
 * rows and written per table and kind in set-based statements, tables ordered by this DC's
 * foreign keys (upserts parents first, deletes children first); TRUNCATE and key changes in
 * origin order. Where bulk is not safe (references in a cycle, two keys naming one row) the
 * segment goes in origin order too.
 */
export async function writeGroup(db: Queryable, catalog: TableCatalog, origin: string, changes: Change[]): Promise<void> {
  for (const seg of segments(changes)) {
    if (seg.kind === 'serial' || !(await writeBulk(db, catalog, origin, seg.tables))) await applyInOrder(db, catalog, origin, seg.changes);
  }
}

/** false (nothing written) when this segment must go in origin order instead. */
async function writeBulk(db: Queryable, catalog: TableCatalog, origin: string, tables: TableFinals[]): Promise<boolean> {
  const info = new Map<string, TableInfo>();
  for (const f of tables) info.set(f.table, await catalog.get(f.table, { pos: (f.upserts[0] ?? f.deletes[0]).pos }));
  const byOid = new Map([...info.values()].map((t) => [t.oid, t.wireName]));
  const order = parentsFirst(
    tables.map((f) => f.table),
    (name) => info.get(name)!.parents.flatMap((p) => byOid.get(p) ?? []),
  );
  if (!order) return false;
  const finals = new Map(tables.map((f) => [f.table, f]));
  const plans: Planned[] = [];
  for (const name of order) {
    const f = finals.get(name)!;
    const t = info.get(name)!;
    const all = [...f.upserts, ...f.deletes];
    const keys = keyColumns(t, origin, all[0]);
    // every final of a table must name its row by the same columns (a re-track may change them)
    const keySig = keys.join('\0');
    if (all.some((c) => memberSignature(c.key!) !== keySig)) return false;
    const local = await readLocal(db, t, keys, all.map((c) => c.key!));
    // two keys naming one row (the same value written two ways): only origin order is safe
    if (new Set([...local.values()].map((l) => l.ctid)).size !== local.size) return false;
    plans.push({ t, f, keys, local, all });
  }
  for (const p of plans) await upsertTable(db, origin, p);
  for (const p of [...plans].reverse()) await deleteTable(db, p);
  return true;
}

async function upsertTable(db: Queryable, origin: string, p: Planned): Promise<void> {
  const { t, f, keys, local } = p;
  // rows of one column set per statement (a column added at the origin mid-stream, say)
  const bySig = new Map<string, { write: string[]; update: Change[]; xmins: string[]; insert: Change[] }>();
  f.upserts.forEach((c, i) => {
    const sig = memberSignature(c.row!);
    let g = bySig.get(sig);
    if (!g) bySig.set(sig, (g = { write: writableColumns(t, origin, c), update: [], xmins: [], insert: [] }));
    const l = local.get(i);
    if (l) {
      g.update.push(c);
      g.xmins.push(l.xmin);
    } else g.insert.push(c);
  });
  for (const g of bySig.values()) {
    const asText = jsonTextColumns(t, g.write, [...g.update, ...g.insert]);
    if (g.update.length && (await updateRows(db, t, keys, g.write, asText, g.update, g.xmins)) !== g.update.length) throw new LocalWriteRace(`updating ${t.wireName}`);
    if (g.insert.length) {
      try {
        await insertRows(db, t, g.write, asText, g.insert);
      } catch (e) {
        const pg = e as { code?: string; constraint?: string };
        if (pg.code === '23505' && pg.constraint !== undefined && pg.constraint === keyIndex(t, keys)) throw new LocalWriteRace(`inserting into ${t.wireName}`);
        throw e;
      }
    }
  }
}

async function deleteTable(db: Queryable, p: Planned): Promise<void> {
  const n = p.f.upserts.length;
  const gone = p.f.deletes.map((c, i) => ({ c, l: p.local.get(n + i) })).filter((x) => x.l);
  if (!gone.length) return;
  const deleted = await deleteRows(
    db,
    p.t,
    p.keys,
    gone.map((x) => x.c.key!),
    gone.map((x) => x.l!.xmin),
  );
  if (deleted !== gone.length) throw new LocalWriteRace(`deleting from ${p.t.wireName}`);
}
