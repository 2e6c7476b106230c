// Application DDL on tracked tables, done DC by DC as docs/operations.md says (one test per
// procedure there). In every one: the application keeps writing in the DC that changed first, on
// the connection it wrote on before (its cached plans), and no write fails; where the other DC
// cannot take the changes yet, its stream stops with the fix named and goes on by itself once the
// same DDL is done there; at the end both DCs hold the same rows.
import { Client } from 'pg';
import { sql } from '../support/db';
import { createMesh, Mesh, tableRows } from '../support/mesh';
import { waitFor } from '../support/origin';

const DDL = `
create table public.items (id int primary key, v text not null, doc jsonb, tags int[]);
create table public.counts (id int primary key, hits int not null default 0);`;

let mesh: Mesh;
/** The application's connection in each DC: it stays open across the DDL, as a pool's would. */
const app: Record<string, Client> = {};

beforeEach(async () => {
  mesh = await createMesh('kafka', DDL, ['public.items', 'public.counts'], ['a', 'b']);
  for (const dc of mesh.dcs) {
    await sql(mesh.url[dc], `select ferry.track('public.counts', null, '{hits}')`);
    app[dc] = new Client({ connectionString: mesh.url[dc] });
    await app[dc].connect();
    // the application has written before: its session has planned the capture function
    await app[dc].query(`insert into items values ($1, 'before', 'null', '[0:1]={1,2}'), ($2, 'before', '{"a": 1}', null)`, dc === 'dc-a' ? [1, 2] : [101, 102]);
    await app[dc].query(`insert into counts values ($1, 1)`, [dc === 'dc-a' ? 1 : 101]);
  }
  for (const dc of mesh.dcs) mesh.start(dc);
  await mesh.drained(60_000);
});

afterEach(async () => {
  for (const c of Object.values(app)) await c.end().catch(() => undefined);
  await mesh?.close();
});

const ddl = (dc: string, text: string) => sql(mesh.url[dc], text);

/** What dc-b has applied of dc-a: its status, and the error while stopped. */
const streamAtB = async () => (await sql<{ status: string; error_kind: string | null; error: string | null }>(mesh.url['dc-b'], `select status, error_kind, error from ferry.applied where origin = 'dc-a'`))[0];

/** dc-b stops the stream from dc-a with a schema error that says this. */
async function stopsAtB(says: RegExp): Promise<void> {
  const s = await waitFor(async () => {
    const x = await streamAtB();
    return x?.status === 'stopped' && x;
  }, 30_000, 'dc-b to stop the stream from dc-a');
  expect({ kind: s.error_kind, error: s.error }).toEqual({ kind: 'schema', error: expect.stringMatching(says) });
}

async function expectSame(table: string): Promise<void> {
  await mesh.drained(60_000);
  expect((await streamAtB()).status).toBe('running');
  expect(await tableRows(mesh.url['dc-b'], table, 'id')).toEqual(await tableRows(mesh.url['dc-a'], table, 'id'));
}

describe('schema changes, DC by DC (docs/operations.md)', () => {
  it('add a nullable column: dc-b stops naming it until it has it, then catches up by itself', async () => {
    await ddl('dc-a', `alter table items add column note text`);
    await app['dc-a'].query(`insert into items values (3, 'after', null, '{3}', 'a note')`);
    await app['dc-a'].query(`update items set v = 'after' where id = 1`);
    // dc-b's writes meanwhile lack the column: dc-a takes them (the column stays NULL)
    await app['dc-b'].query(`insert into items values (103, 'from b', null, null)`);
    await stopsAtB(/column\(s\) note of public\.items are not at this DC: add them here/);
    await ddl('dc-b', `alter table items add column note text`);
    await expectSame('items');
    expect(await sql(mesh.url['dc-b'], `select note from items where id = 3`)).toEqual([{ note: 'a note' }]);
  }, 120_000);

  it('add a column with a default: rows written anywhere before it arrived get the same default', async () => {
    await ddl('dc-a', `alter table items add column n int not null default 7`);
    await app['dc-a'].query(`insert into items (id, v) values (4, 'after')`);
    await app['dc-b'].query(`insert into items values (104, 'from b', null, null)`);
    await stopsAtB(/column\(s\) n of public\.items are not at this DC/);
    await ddl('dc-b', `alter table items add column n int not null default 7`);
    await expectSame('items');
    expect(await sql(mesh.url['dc-a'], `select n from items where id = 104`)).toEqual([{ n: 7 }]);
  }, 120_000);

  it('drop a column: no stream stops, in either order; changes that still carry it are taken without it', async () => {
    // the application stopped using doc; dc-a drops it first, dc-b still writes rows that have it
    await ddl('dc-a', `alter table items drop column doc`);
    await app['dc-a'].query(`insert into items values (5, 'after', '{5}')`);
    await app['dc-b'].query(`insert into items values (105, 'from b', '{"still": true}', null)`);
    await mesh.drained(60_000);
    expect((await sql(mesh.url['dc-a'], `select status from ferry.applied where origin = 'dc-b'`))[0]).toEqual({ status: 'running' });
    await ddl('dc-b', `alter table items drop column doc`);
    await app['dc-b'].query(`update items set v = 'after drop' where id = 105`);
    await expectSame('items');
  }, 120_000);

  it('rename a column, the key too: writes go on at once; each DC reads the other\'s changes under its own name', async () => {
    await ddl('dc-a', `alter table items rename column id to item_id`);
    await ddl('dc-a', `alter table items rename column v to label`);
    // the application's UPDATE and DELETE by the renamed key work at once (the capture function reads images)
    await app['dc-a'].query(`update items set label = 'renamed' where item_id = 1`);
    await app['dc-a'].query(`delete from items where item_id = 2`);
    await app['dc-a'].query(`insert into items values (6, 'after', null, '{6}')`);
    // dc-b, not renamed yet, writes under the old names: dc-a reads them under its new ones
    await app['dc-b'].query(`update items set v = 'b before rename' where id = 101`);
    await stopsAtB(/column\(s\) (item_id|label)/);
    await ddl('dc-b', `alter table items rename column id to item_id; alter table items rename column v to label`);
    await app['dc-b'].query(`update items set label = 'b after rename' where item_id = 102`);
    await mesh.drained(60_000);
    expect((await streamAtB()).status).toBe('running');
    expect(await tableRows(mesh.url['dc-b'], 'items', 'item_id')).toEqual(await tableRows(mesh.url['dc-a'], 'items', 'item_id'));
    expect(await sql(mesh.url['dc-b'], `select item_id, label from items order by item_id`)).toEqual([
      { item_id: 1, label: 'renamed' },
      { item_id: 6, label: 'after' },
      { item_id: 101, label: 'b before rename' },
      { item_id: 102, label: 'b after rename' },
    ]);
    // the ticker made the capture function anew: the key is read by its new name again
    await waitFor(async () => (await sql<{ k: string[] }>(mesh.url['dc-a'], `select key_cols as k from ferry.tracked where tbl = 'items'::regclass`))[0].k[0] === 'item_id', 10_000, 'the capture function made anew');
  }, 120_000);

  it('add a table: its stream stops at dc-b until the table is there, then goes on', async () => {
    const create = `create table public.tags (id int primary key, name text not null); select ferry.track('public.tags');`;
    await ddl('dc-a', create);
    await app['dc-a'].query(`insert into tags values (1, 'first')`);
    await app['dc-a'].query(`insert into items values (7, 'same transaction stream', null, null)`);
    await stopsAtB(/table public\.tags does not exist at this DC: create it here/);
    await ddl('dc-b', create);
    await app['dc-b'].query(`insert into tags values (2, 'second')`);
    await expectSame('tags');
    expect(await tableRows(mesh.url['dc-b'], 'tags', 'id')).toEqual(['(1,first)', '(2,second)']);
  }, 120_000);

  it('change a type: a value dc-b cannot hold yet stops its stream with the fix named; widened there, it goes on', async () => {
    // a type changed on its own: the session that planned the capture function before writes on
    await ddl('dc-a', `alter table items alter column doc type json using doc::json`);
    await app['dc-a'].query(`insert into items values (8, 'small', null, null)`);
    // as docs/operations.md says: the capture function made anew in the DDL's own transaction, so the
    // exact text of json and array values is kept from the first write on
    const change = `begin;
      alter table items alter column id type bigint;
      alter table items alter column tags type text using tags::text;
      select ferry.refresh_tracked('items');
      commit;`;
    await ddl('dc-a', change);
    await app['dc-a'].query(`insert into items values (5000000000, 'big', 'null', '[2:2]={9}')`);
    await stopsAtB(/refused the value.*make it match.*tries again by itself/);
    await ddl('dc-b', `alter table items alter column doc type json using doc::json;` + change);
    await expectSame('items');
    expect(await sql(mesh.url['dc-b'], `select doc::text as doc, tags from items where id = 5000000000`)).toEqual([{ doc: 'null', tags: '[2:2]={9}' }]);
  }, 120_000);
});
