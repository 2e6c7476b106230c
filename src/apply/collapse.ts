import type { Change } from '../protocol/envelope';

/** The final state of one table's rows after a run of changes: the last change of each key. */
export interface TableFinals {
  table: string;
  /** Last change per key that leaves the row present (I, U), in key order. */
  upserts: Change[];
  /** Last change per key that leaves the row absent (D), in key order. */
  deletes: Change[];
}

/**
 * A piece of a group: either changes that may be collapsed to each row's final state and written
 * in bulk, or changes that must be applied one by one in origin order (TRUNCATE, a key change).
 */
export type Segment = { kind: 'bulk'; changes: Change[]; tables: TableFinals[] } | { kind: 'serial'; changes: Change[] };

/** TRUNCATE and key changes are applied in origin order: collapsing across them would be wrong. */
const isBarrier = (c: Change) => c.op === 'T' || c.old !== null;

/**
 * Cuts a group of changes (whole source transactions, in position order) into segments, and
 * collapses each bulk segment to the last change per (table, key): inside one destination
 * transaction only each row's final state matters (DESIGN.md §3.5), so a row updated a thousand
 * times is written once. Pure: no I/O.
 */
export function segments(changes: Change[]): Segment[] {
  const out: Segment[] = [];
  let run: Change[] = [];
  let serial = false;
  const flush = () => {
    if (!run.length) return;
    out.push(serial ? { kind: 'serial', changes: run } : { kind: 'bulk', changes: run, tables: collapse(run) });
    run = [];
  };
  for (const c of changes) {
    const b = isBarrier(c);
    if (run.length && b !== serial) flush();
    serial = b;
    run.push(c);
  }
  flush();
  return out;
}

/** The last change of each key, per table; tables in order of first appearance. */
export function collapse(changes: Change[]): TableFinals[] {
  const byTable = new Map<string, Map<string, Change>>();
  for (const c of changes) {
    let keys = byTable.get(c.table);
    if (!keys) byTable.set(c.table, (keys = new Map()));
    keys.set(c.key!, c);
  }
  return [...byTable].map(([table, keys]) => {
    const t: TableFinals = { table, upserts: [], deletes: [] };
    // in key order: appliers of two origins writing the same rows lock them in the same order
    for (const k of [...keys.keys()].sort()) {
      const c = keys.get(k)!;
      (c.op === 'D' ? t.deletes : t.upserts).push(c);
    }
    return t;
  });
}

/**
 * A serial segment as the statements that apply it: each key change on its own, and consecutive
 * TRUNCATEs of one source transaction together. `TRUNCATE a, b` (or `TRUNCATE a CASCADE` reaching
 * b) is one statement at the origin and fires one change per table; tables linked by a foreign
 * key cannot be truncated one at a time, and with nothing written between them, truncating them
 * together leaves what the origin left. Pure: no I/O.
 */
export function statements(serial: Change[]): Change[][] {
  const out: Change[][] = [];
  for (const c of serial) {
    const last = out[out.length - 1];
    if (c.op === 'T' && last && last[0].op === 'T' && last[0].xid === c.xid) last.push(c);
    else out.push([c]);
  }
  return out;
}
