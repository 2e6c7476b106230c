import type { Change } from '../protocol/envelope';

/**
 * The changes a bootstrap copy already holds (DESIGN.md §7), dropped by the applier of a DC filled
 * by `ferry bootstrap`, with no I/O. Each table was copied in its own snapshot of the source:
 *  - the source's own changes are in the copy when their transaction is visible in that snapshot
 *    (every change carries its source xid);
 *  - another origin's changes are in it up to the position the source had applied in that snapshot.
 * Nothing past `until` can be in a copy.
 */
export class CopiedChanges {
  private readonly tables: Map<string, { snap: Snapshot; pos: number }>;

  constructor(
    private readonly origin: string,
    private readonly source: string,
    private readonly until: number,
    tables: { table: string; snap: string; pos: number }[],
  ) {
    this.tables = new Map(tables.map((t) => [t.table, { snap: parseSnapshot(t.snap), pos: t.pos }]));
  }

  /** Past `until` nothing is dropped any more. */
  done(applied: number): boolean {
    return applied >= this.until;
  }

  holds(c: Change): boolean {
    if (c.pos > this.until) return false;
    const t = this.tables.get(c.table);
    if (!t) return false;
    return this.origin === this.source ? visible(BigInt(c.xid), t.snap) : c.pos <= t.pos;
  }
}

export interface Snapshot {
  xmin: bigint;
  xmax: bigint;
  xip: Set<bigint>;
}

/** pg_snapshot's text form, xmin:xmax:xip,… */
export function parseSnapshot(text: string): Snapshot {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(text);
  if (!m) throw new SyntaxError(`not a snapshot: ${text}`);
  return { xmin: BigInt(m[1]), xmax: BigInt(m[2]), xip: new Set(m[3] ? m[3].split(',').map(BigInt) : []) };
}

/** pg_visible_in_snapshot: committed before the snapshot was taken. */
export function visible(xid: bigint, s: Snapshot): boolean {
  return xid < s.xmin || (xid < s.xmax && !s.xip.has(xid));
}
