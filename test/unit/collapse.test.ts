// The bulk path's pure parts: a group cut into segments and collapsed to each row's final state,
// and tables ordered by their foreign keys.
import { collapse, segments, statements } from '../../src/apply/collapse';
import { parentsFirst } from '../../src/apply/fk-order';
import type { Change, Op } from '../../src/protocol/envelope';

let pos = 0;
const ch = (table: string, op: Op, id: number, v = '', old?: number): Change => ({
  pos: ++pos,
  id: pos,
  xid: '1',
  txEnd: true,
  table,
  op,
  key: op === 'T' ? null : `{"id": ${id}}`,
  row: op === 'I' || op === 'U' ? `{"id": ${id}, "v": "${v}"}` : null,
  old: old === undefined ? null : `{"id": ${old}}`,
  at: '',
  ms: 1000 + pos,
});
beforeEach(() => (pos = 0));
const ps = (cs: Change[]) => cs.map((c) => c.pos);

describe('collapse', () => {
  it('keeps the last change of each key, per table, in key order', () => {
    const cs = [ch('a', 'I', 1, 'x'), ch('a', 'U', 1, 'y'), ch('b', 'I', 1), ch('a', 'I', 2), ch('a', 'U', 1, 'z'), ch('a', 'D', 2), ch('b', 'D', 1), ch('a', 'I', 3)];
    const [a, b] = collapse(cs);
    expect(a.table).toBe('a');
    expect(ps(a.upserts)).toEqual([5, 8]); // id 1 at its last image (pos 5), id 3
    expect(ps(a.deletes)).toEqual([6]); // id 2 inserted, then deleted: gone
    expect(b).toEqual({ table: 'b', upserts: [], deletes: [cs[6]] });
  });

  it('a hot row updated a thousand times is written once', () => {
    const cs = Array.from({ length: 1000 }, (_, i) => ch('a', 'U', 7, `v${i}`));
    const [a] = collapse(cs);
    expect(a.upserts).toEqual([cs[999]]);
  });

  it('a row deleted and inserted again ends as the insert', () => {
    const [a] = collapse([ch('a', 'D', 4), ch('a', 'I', 4, 'again')]);
    expect(ps(a.upserts)).toEqual([2]);
    expect(a.deletes).toEqual([]);
  });
});

describe('segments', () => {
  it('TRUNCATE and key changes are barriers applied in origin order; bulk on either side', () => {
    const cs = [ch('a', 'I', 1), ch('a', 'U', 1), ch('a', 'T', 0), ch('b', 'U', 2, 'k', 1), ch('a', 'I', 5), ch('a', 'U', 5)];
    const s = segments(cs);
    expect(s.map((x) => x.kind)).toEqual(['bulk', 'serial', 'bulk']);
    expect(ps(s[0].changes)).toEqual([1, 2]);
    expect(ps(s[1].changes)).toEqual([3, 4]);
    expect(s[2].kind === 'bulk' && ps(s[2].tables[0].upserts)).toEqual([6]);
  });

  it('no changes, no segments', () => expect(segments([])).toEqual([]));
});

describe('parentsFirst', () => {
  const refs: Record<string, string[]> = { orders: ['customers', 'products'], lines: ['orders', 'products'], customers: [], products: [], tree: ['tree'] };
  it('puts every referenced table before the tables referencing it', () => {
    const order = parentsFirst(['lines', 'orders', 'tree', 'customers', 'products'], (t) => refs[t] ?? [])!;
    const at = (t: string) => order.indexOf(t);
    expect(order).toHaveLength(5);
    expect(at('customers')).toBeLessThan(at('orders'));
    expect(at('products')).toBeLessThan(at('orders'));
    expect(at('orders')).toBeLessThan(at('lines'));
  });
  it('ignores tables outside the group, and a table referencing itself', () => {
    expect(parentsFirst(['lines', 'tree'], (t) => refs[t] ?? [])).toEqual(['lines', 'tree']);
  });
  it('null for references in a cycle', () => {
    expect(parentsFirst(['x', 'y'], (t) => (t === 'x' ? ['y'] : ['x']))).toBeNull();
  });
});

describe('statements of a serial segment', () => {
  const inTx = (c: Change, xid: string): Change => ({ ...c, xid });
  it('puts consecutive TRUNCATEs of one source transaction in one statement, and nothing else', () => {
    const cs = [
      inTx(ch('a', 'T', 0), '1'),
      inTx(ch('b', 'T', 0), '1'), // TRUNCATE a, b (or a CASCADE reaching b)
      inTx(ch('a', 'U', 2, 'x', 1), '1'), // a key change between two truncates
      inTx(ch('c', 'T', 0), '1'),
      inTx(ch('a', 'T', 0), '2'), // the next source transaction: a statement of its own
      inTx(ch('b', 'T', 0), '2'),
      inTx(ch('a', 'U', 3, 'y', 2), '2'),
      inTx(ch('a', 'U', 4, 'z', 3), '2'),
    ];
    expect(statements(cs).map(ps)).toEqual([[1, 2], [3], [4], [5, 6], [7], [8]]);
  });
});
