// Three datacenters kept in sync end to end, through real Kafka and a real SQS server.
import { sql, withClient } from '../support/db';
import { createMesh, Mesh, tableRows } from '../support/mesh';
import { TransportKind, waitFor } from '../support/origin';
import { AWKWARD, VALUE_ROWS, VALUES_DDL, WRITER_SETTINGS } from '../support/values';
import { publishedPosition } from '../../src/tables/ticks';

const DDL = `
create table public.parent (id int primary key, name text not null, updated int not null default 0);
create table public.child (id int primary key, parent_id int not null references public.parent(id) on delete cascade, note text);
create table public.other (id int primary key, v text);`;
const TABLES = ['public.parent', 'public.child', 'public.other'];

async function mixedWorkload(url: string, rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    const base = r * 20;
    await sql(
      url,
      `with p as (insert into parent select g, 'p' || g from generate_series($1::int, $1::int + 19) g returning id)
       insert into child select id * 10, id, 'child of ' || id from p`,
      [base + 1],
    );
    await sql(url, `update parent set updated = updated + 1, name = name || '!' where id % 3 = 0 and id <= $1`, [base + 20]);
    await sql(url, `delete from parent where id = $1`, [base + 5]); // cascades to its child at the origin
    await sql(url, `update child set note = 'moved', parent_id = $2 where id = $1`, [(base + 7) * 10, base + 8]);
  }
}

describe.each<TransportKind>(['kafka', 'sqs'])('three DCs over %s', (kind) => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('a mixed workload with an enforced foreign key on dc-a ends identical in all three DCs', async () => {
    mesh = await createMesh(kind, DDL, TABLES);
    for (const dc of mesh.dcs) mesh.start(dc);
    await mixedWorkload(mesh.url['dc-a'], 10);
    await mesh.drained();
    const a = await tableRows(mesh.url['dc-a'], 'parent', 'id');
    const ac = await tableRows(mesh.url['dc-a'], 'child', 'id');
    expect(a.length).toBe(190);
    expect(ac.length).toBe(190);
    for (const dc of ['dc-b', 'dc-c']) {
      expect(await tableRows(mesh.url[dc], 'parent', 'id')).toEqual(a);
      expect(await tableRows(mesh.url[dc], 'child', 'id')).toEqual(ac);
      const errs = await sql(mesh.url[dc], `select origin, error from ferry.applied where error is not null or status <> 'running'`);
      expect(errs).toEqual([]);
    }
  });

  it('two DCs writing different tables at once: everything arrives everywhere, nothing loops back', async () => {
    mesh = await createMesh(kind, DDL, TABLES);
    for (const dc of mesh.dcs) mesh.start(dc);
    await Promise.all([
      mixedWorkload(mesh.url['dc-a'], 5),
      (async () => {
        for (let i = 0; i < 50; i++) await sql(mesh.url['dc-b'], `insert into other values ($1, 'from b')`, [i]);
        await sql(mesh.url['dc-b'], `update other set v = 'b again' where id < 10`);
      })(),
    ]);
    await mesh.drained();
    for (const dc of mesh.dcs) {
      expect(await tableRows(mesh.url[dc], 'parent', 'id')).toEqual(await tableRows(mesh.url['dc-a'], 'parent', 'id'));
      expect(await tableRows(mesh.url[dc], 'other', 'id')).toEqual(await tableRows(mesh.url['dc-b'], 'other', 'id'));
    }
    // each DC published only its own writes: dc-b's 60 changes, and none of dc-a's came back out
    const published = async (dc: string) =>
      withClient(mesh.url[dc], publishedPosition);
    expect(await published('dc-b')).toBe(60);
    expect(await published('dc-c')).toBe(0);
    // dc-a applied dc-b's 60 changes without capturing them: every id its sequence handed out is
    // one of its own writes, all of them on dc-a's tables
    const seq = async (dc: string) => Number((await sql<{ n: string }>(mesh.url[dc], `select last_value as n from ferry.change_id_seq`))[0].n);
    expect(await seq('dc-b')).toBe(60);
    expect(await published('dc-a')).toBe(await seq('dc-a'));
  });
});

describe('awkward but legal setups', () => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('over SQS: a change in more chunks than one receive returns, REPEATABLE READ as the default, and an extra NOT NULL domain column at the destination', async () => {
    // small frames: the big row below becomes ~80 chunk messages, while a receive returns 10 at most
    mesh = await createMesh('sqs', DDL, TABLES, ['a', 'b'], { transport: { maxFrameBytes: 4096, maxBatchBytes: 16384 } });
    for (const dc of mesh.dcs) {
      // Ferry's own sessions must not inherit this (prune and tick need statement snapshots)
      const db = new URL(mesh.url[dc]).pathname.slice(1);
      await sql(mesh.url[dc], `alter database "${db}" set default_transaction_isolation = 'repeatable read'`);
    }
    await sql(
      mesh.url['dc-b'],
      `create domain stamp_nn as timestamptz not null;
       alter table other add column seen_at stamp_nn default now()`,
    );
    for (const dc of mesh.dcs) mesh.start(dc);
    const big = 'Ferry ✓ '.repeat(25_000);
    await sql(mesh.url['dc-a'], `insert into other values (1, 'small')`);
    // a transaction of its own: while its pieces arrive, nothing else is open or held
    await sql(mesh.url['dc-a'], `insert into other values (2, $1)`, [big]);
    await sql(mesh.url['dc-a'], `insert into other values (3, 'after')`);
    await sql(mesh.url['dc-a'], `update other set v = v || '!' where id = 3`);
    await mesh.drained(90_000);
    const rows = await sql<{ id: number; v: string; seen: boolean }>(mesh.url['dc-b'], 'select id, v, seen_at is not null as seen from other order by id');
    expect(rows.map((r) => [r.id, r.v.length, r.seen])).toEqual([
      [1, 5, true],
      [2, big.length, true],
      [3, 6, true],
    ]);
    expect(rows[1].v).toBe(big);
    expect(await sql(mesh.url['dc-b'], `select 1 from ferry.inbox`)).toEqual([]);
  });
});

describe('sidecar process', () => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('kill -9 of an applier mid-batch: after restart nothing is lost or applied twice', async () => {
    // every row write at dc-b is logged by a plain trigger there: a change applied twice shows up
    mesh = await createMesh('kafka', DDL, TABLES, ['a', 'b'], { apply: { groupChanges: 500 } });
    await sql(
      mesh.url['dc-b'],
      `create table write_log (id int, at timestamptz default clock_timestamp());
       create function log_write() returns trigger language plpgsql as $$ begin insert into write_log (id) values (new.id); return null; end $$;
       create trigger log_write after insert or update on other for each row execute function log_write();`,
    );
    mesh.start('dc-a', { apply: false });
    for (let i = 0; i < 40; i++) {
      await sql(mesh.url['dc-a'], `insert into other select g, 'x' from generate_series($1::int, $1::int + 999) g`, [i * 1000]);
    }
    const applier = mesh.spawn('dc-b', 'apply');
    await waitFor(async () => Number((await sql<{ n: string }>(mesh.url['dc-b'], 'select count(*) as n from write_log'))[0].n) > 3000 || undefined, 60000, 'apply to begin');
    applier.kill('SIGKILL');
    await new Promise((r) => applier.once('exit', r));
    const midway = Number((await sql<{ n: string }>(mesh.url['dc-b'], 'select count(*) as n from other'))[0].n);
    expect(midway).toBeLessThan(40000);
    mesh.spawn('dc-b', 'apply');
    await waitFor(async () => Number((await sql<{ n: string }>(mesh.url['dc-b'], 'select count(*) as n from other'))[0].n) === 40000 || undefined, 90000, 'all rows at dc-b');
    const writes = await sql<{ n: string; d: string }>(mesh.url['dc-b'], 'select count(*) as n, count(distinct id) as d from write_log');
    expect(Number(writes[0].n)).toBe(40000);
    expect(Number(writes[0].d)).toBe(40000);
    expect(await tableRows(mesh.url['dc-b'], 'other', 'id')).toEqual(await tableRows(mesh.url['dc-a'], 'other', 'id'));
  });
});

describe.each<TransportKind>(['kafka', 'sqs'])('values end to end over %s', (kind) => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('every type lands exactly in the other DC, json text as written, the JSON null, array bounds and a writer\'s odd session settings included', async () => {
    mesh = await createMesh(kind, VALUES_DDL, [AWKWARD], ['a', 'b']);
    for (const dc of mesh.dcs) mesh.start(dc);
    await sql(mesh.url['dc-a'], `${WRITER_SETTINGS} insert into ${AWKWARD} values ${VALUE_ROWS.join(',')}`);
    // an update that turns SQL NULL into the JSON null, and one that rewrites json text only
    await sql(mesh.url['dc-a'], `update ${AWKWARD} set jb = 'null', j = 'null' where "Key Col" = 2`);
    await sql(mesh.url['dc-a'], `update ${AWKWARD} set j = '{"a":1,   "a":2}' where "Key Col" = 1`);
    await mesh.drained();
    const rows = (url: string) => tableRows(url, AWKWARD, '"Key Col"');
    const a = await rows(mesh.url['dc-a']);
    expect(a).toHaveLength(VALUE_ROWS.length);
    expect(await rows(mesh.url['dc-b'])).toEqual(a);
    // and not only equal as text: the JSON null is not SQL NULL there
    const nulls = await sql<{ k: string; j_sql_null: boolean; jb_sql_null: boolean; jb_type: string | null }>(
      mesh.url['dc-b'],
      `select "Key Col"::text as k, j is null as j_sql_null, jb is null as jb_sql_null, jsonb_typeof(jb) as jb_type from ${AWKWARD} where "Key Col" in (2, 4) order by 1`,
    );
    expect(nulls).toEqual([
      { k: '2', j_sql_null: false, jb_sql_null: false, jb_type: 'null' },
      { k: '4', j_sql_null: false, jb_sql_null: false, jb_type: 'null' },
    ]);
  });
});
