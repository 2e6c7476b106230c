// ferry.prune against a real database: a change table that is not current is emptied once every
// row in it is in a published batch, and an empty one is left alone (the forwarder prunes every
// second; truncating empty tables gave them new files and made every session replan). And the
// purge of row versions never waits for an applier that holds an entry (they deadlocked under load).
import { Client } from 'pg';
import { purgeVersions } from '../../src/tables/row-versions';
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

  it('purges the row versions every peer has applied past, leaving an entry an applier holds to the next round', async () => {
    await sql(
      fx.url,
      `insert into ferry.row_versions (tbl, key, ms, origin, seq, deleted, xid, pos)
       select 'public.items'::regclass, format('{"id": %s}', g), 1, 'dc-x', g, false, null, g from generate_series(1, 3) g`,
    );
    const keys = async () => (await sql<{ key: string }>(fx.url, 'select key from ferry.row_versions order by pos')).map((r) => r.key);
    // an applier of dc-x rewriting the version of key 2 in its destination transaction
    const applier = new Client({ connectionString: fx.url });
    await applier.connect();
    try {
      await applier.query('begin');
      await applier.query(`update ferry.row_versions set ms = 2 where key = '{"id": 2}'`);
      // every peer has applied dc-x up to position 3: all three could go, but the held one waits;
      // waiting for it would block here until the statement timeout
      const purger = new Client({ connectionString: fx.url, statement_timeout: 5000 });
      await purger.connect();
      try {
        expect(await purgeVersions(purger, 'dc-a', { 'dc-a': Infinity, 'dc-x': 3 }, null)).toBe(2);
        expect(await keys()).toEqual(['{"id": 2}']);
        await applier.query('commit');
        expect(await purgeVersions(purger, 'dc-a', { 'dc-a': Infinity, 'dc-x': 3 }, null)).toBe(1);
        expect(await keys()).toEqual([]);
      } finally {
        await purger.end();
      }
    } finally {
      await applier.end();
    }
  });
});
