// The pure parts of bootstrap: counting the rows of a binary COPY stream however it is cut, the
// changes a copy already holds (dropped by the applier), and the grouping of tables by foreign keys.
import { CopiedChanges, parseSnapshot, visible } from '../../src/apply/copied';
import { copyGroups, SourceTable } from '../../src/bootstrap/catalog';
import { BinaryRows } from '../../src/bootstrap/copy';
import type { Change } from '../../src/protocol/envelope';

/** A binary COPY stream of `rows` tuples of (int4, text or NULL). */
function binaryCopy(rows: number): Buffer {
  const parts = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 2, 9, 9])];
  for (let i = 0; i < rows; i++) {
    const t = Buffer.alloc(2 + 4 + 4 + 4);
    t.writeInt16BE(2, 0);
    t.writeInt32BE(4, 2);
    t.writeInt32BE(i, 6);
    t.writeInt32BE(i % 3 === 0 ? -1 : i % 7, 10);
    parts.push(t, Buffer.from('x'.repeat(i % 3 === 0 ? 0 : i % 7)));
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

describe('BinaryRows', () => {
  it('counts the tuples of a binary COPY stream cut anywhere', () => {
    const all = binaryCopy(500);
    for (const size of [1, 2, 3, 7, 19, 64, 1000, all.length]) {
      const scan = new BinaryRows();
      let n = 0;
      for (let i = 0; i < all.length; i += size) n += scan.feed(all.subarray(i, i + size));
      expect({ size, n }).toEqual({ size, n: 500 });
    }
  });
});

const change = (pos: number, table: string, xid: number): Change => ({ pos, id: pos, xid: String(xid), txEnd: true, table, op: 'U', key: '{"id": 1}', row: '{"id": 1}', old: null, at: '', ms: 1 });

describe('CopiedChanges', () => {
  it('pg_snapshot visibility: below xmin, or below xmax and not in progress', () => {
    const s = parseSnapshot('100:110:103,107');
    expect([99, 100, 103, 105, 107, 109, 110, 200].map((x) => visible(BigInt(x), s))).toEqual([true, true, false, true, false, true, false, false]);
    expect(parseSnapshot('5:5:').xip.size).toBe(0);
  });

  it("the source's own changes: held when their transaction is visible in the table's snapshot, never past `until`", () => {
    const c = new CopiedChanges('dc-a', 'dc-a', 50, [
      { table: 'public.t', snap: '100:110:103', pos: 20 },
      { table: 'public.u', snap: '200:200:', pos: 30 },
    ]);
    expect(c.holds(change(21, 'public.t', 105))).toBe(true);
    expect(c.holds(change(22, 'public.t', 103))).toBe(false); // in progress when copied
    expect(c.holds(change(23, 'public.t', 111))).toBe(false); // began after
    expect(c.holds(change(24, 'public.u', 150))).toBe(true);
    expect(c.holds(change(51, 'public.u', 150))).toBe(false);
    expect(c.holds(change(25, 'public.other', 1))).toBe(false);
    expect(c.done(49)).toBe(false);
    expect(c.done(50)).toBe(true);
  });

  it("another origin's changes: held up to the position the source had applied when the table was copied", () => {
    const c = new CopiedChanges('dc-b', 'dc-a', 40, [
      { table: 'public.t', snap: '100:110:', pos: 20 },
      { table: 'public.u', snap: '200:200:', pos: 40 },
    ]);
    expect([19, 20, 21].map((p) => c.holds(change(p, 'public.t', 1)))).toEqual([true, true, false]);
    expect(c.holds(change(35, 'public.u', 1))).toBe(true);
  });
});

describe('copyGroups', () => {
  const t = (name: string, parents: string[] = []): SourceTable => ({ name, oid: 0, sql: name, keyCols: ['id'], keySource: 'primary key', counters: [], columns: [], binary: true, parents });
  it('tables linked by foreign keys form one group, parents first; the others go alone', () => {
    const groups = copyGroups([t('a'), t('child', ['parent']), t('grand', ['child']), t('parent'), t('z')]);
    expect(groups.map((g) => g.map((x) => x.name))).toEqual([['a'], ['parent', 'child', 'grand'], ['z']]);
  });
});
