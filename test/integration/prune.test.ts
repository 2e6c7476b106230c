// ferry.prune against a real database: a change table that is not current is emptied once every
// row in it is in a published batch, and an empty one is left alone (the forwarder prunes every
// second; truncating empty tables gave them new files and made every session replan).
import { cutTick, markPublished, nextBatch } from '../../src/tables/ticks';
import { sql, withClient } from '../support/db';
import { itemsOriginEachTest } from '../support/origin';

describe('ferry.prune', () => {
  const fx = itemsOriginEachTest();

  const filenodes = async () => (await sql<{ f: string }>(fx.url, `select pg_relation_filenode(format('ferry.changes_%s', g)::regclass)::text as f from generate_series(0, 2) g order by g`)).map((r) => r.f);
  const prune = async () => (await sql<{ s: number[] }>(fx.url, `select ferry.prune('200ms', null) as s`))[0].s;
  const current = async () => (await sql<{ slot: number }>(fx.url, 'select slot from ferry.state'))[0].slot;

  it('leaves empty change tables as they are, and empties a published one after rotation', async () => {
    const before = await filenodes();
    expect(await prune()).toEqual([]);
    expect(await prune()).toEqual([]);
    expect(await filenodes()).toEqual(before);

    // changes in the current table, published, then the capture rotates away from it
    const slot = await current();
    await sql(fx.url, `insert into items select g, 'x' from generate_series(1, 10) g`);
    await withClient(fx.url, async (c) => {
      expect((await cutTick(c, 1)).tick).not.toBeNull();
      for (let b = await nextBatch(c); b; b = await nextBatch(c)) await markPublished(c, b.cur.tick);
    });
    expect((await sql<{ ok: boolean }>(fx.url, 'select ferry.rotate() as ok'))[0].ok).toBe(true);
    expect(await current()).not.toBe(slot);

    expect(await prune()).toEqual([slot]);
    expect(Number((await sql<{ n: string }>(fx.url, `select count(*) as n from ferry.changes_${slot}`))[0].n)).toBe(0);
    const after = await filenodes();
    expect(after[slot]).not.toBe(before[slot]);
    // the other tables were never touched
    for (const s of [0, 1, 2].filter((x) => x !== slot)) expect(after[s]).toBe(before[s]);
    expect(await prune()).toEqual([]);
  });
});
