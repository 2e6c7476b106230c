// The capture function survives application DDL on its own, before the ticker makes it anew (no
// ticker runs here): on the application's long-lived session, which planned it before, every write
// after a rename, an added, a dropped or a retyped column succeeds and is captured with its key.
import { Client } from 'pg';
import { migrate } from '../../src/capture/migrate';
import { dropDatabase, freshDatabase } from '../support/db';

describe('capture after application DDL', () => {
  let url: string;
  let c: Client;
  beforeAll(async () => {
    url = await freshDatabase('a');
    c = new Client({ connectionString: url });
    await c.connect();
    await migrate(c, { origin: 'dc-a' });
    await c.query(`create table t (id int primary key, v text, doc jsonb, tags int[], n int not null default 0)`);
    await c.query(`select ferry.track('t', null, '{n}')`);
  });
  afterAll(async () => {
    await c.end();
    await dropDatabase(url);
  });

  const changes = async () =>
    (await c.query<{ op: string; row: string; old: string | null; jt: string | null }>(`select op, row::text as row, old::text as old, json_text::text as jt from ferry.changes order by id`)).rows;

  it('never fails a write, and keeps the key under its name now', async () => {
    const steps: [string, string][] = [
      // the session plans every part of the capture function first
      ['', `insert into t values (1, 'a', 'null', '[0:1]={1,2}', 5)`],
      ['', `update t set v = 'b', n = 6 where id = 1`],
      [`alter table t rename column id to ident`, `update t set v = 'c' where ident = 1`],
      ['', `update t set ident = 2 where ident = 1`],
      [`alter table t rename column n to hits`, `update t set hits = hits + 1 where ident = 2`],
      [`alter table t alter column doc type json using doc::json`, `insert into t values (3, 'x', null, '{1}', 0)`],
      ['', `insert into t values (4, 'x', 'null', '{1}', 0)`],
      [`alter table t drop column tags`, `insert into t values (5, 'y', '{"a": 1}', 0)`],
      [`alter table t add column tags jsonb`, `insert into t values (6, 'z', null, 0, 'null')`],
      [`alter table t alter column ident type bigint`, `delete from t where ident = 5`],
    ];
    for (const [ddl, write] of steps) {
      if (ddl) await c.query(ddl);
      await expect(c.query(write)).resolves.toBeDefined();
    }
    const cs = await changes();
    expect(cs.map((x) => x.op).join('')).toBe('IUUUUIIIID');
    // the key of a key change and of a delete, under the key's name now
    expect(cs[3].old).toBe('{"ident": 1}');
    expect(cs[9].row).toBe('{"ident": 5}');
    expect(cs[0].jt).toBe('{"doc": "null", "tags": "[0:1]={1,2}"}');
    // the counter renamed: counting under its new name starts from the value it had (6), plus this DC's +1
    expect((await c.query(`select dc, value::int as v from ferry.counters where key = '{"ident": 2}' and col = 'hits' order by dc`)).rows).toEqual([
      { dc: '', v: 6 },
      { dc: 'dc-a', v: 1 },
    ]);
  });

  it('is made anew for the columns as they are (ferry.refresh_tracked), and the exact text of new json columns is kept', async () => {
    expect((await c.query(`select t from ferry.refresh_tracked() t`)).rows).toEqual([{ t: 't' }]);
    expect((await c.query(`select key_cols, counters from ferry.tracked`)).rows).toEqual([{ key_cols: ['ident'], counters: ['hits'] }]);
    await c.query(`insert into t values (7, 'z', 'null', 0, 'null')`);
    expect((await changes()).pop()!.jt).toBe('{"doc": "null", "tags": "null"}');
    // nothing changed since: nothing to make anew
    expect((await c.query(`select t from ferry.refresh_tracked() t`)).rows).toEqual([]);
  });
});
