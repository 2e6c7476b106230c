// Active-active (DESIGN.md §6): every DC writes the same rows at once, and once writes stop every DC
// holds the same rows; each conflict is on record; deletes stay deleted; counters add up; a clock
// far off still converges and raises the alarm; a unique value written in two DCs ends the same
// everywhere with the loser in quarantine.
import { Client } from 'pg';
import { sql } from '../support/db';
import { createMesh, Mesh, tableRows } from '../support/mesh';
import { TransportKind, waitFor } from '../support/origin';

const DDL = `
create table public.items (id int primary key, v text not null, touched int not null default 0);
create table public.accounts (id int primary key, owner text not null, balance numeric(12,2) not null default 0);
create table public.users (id int primary key, email text not null unique, name text);`;
const TABLES = ['public.items', 'public.accounts', 'public.users'];

/** accounts.balance is a counter in every DC (the same choice everywhere). */
async function countersOn(mesh: Mesh): Promise<void> {
  for (const dc of mesh.dcs) await sql(mesh.url[dc], `select ferry.track('public.accounts', null, '{balance}')`);
}

const rand = (n: number) => Math.floor(Math.random() * n);

/** The same rows in every DC, written as setup (tagged like the applier's writes, so not captured). */
async function everywhere(mesh: Mesh, text: string): Promise<void> {
  for (const dc of mesh.dcs) await sql(mesh.url[dc], `select set_config('ferry.origin', 'setup', false); ${text}`);
}

interface Writer {
  dc: string;
  /** increments of accounts.balance that committed */
  added: number;
  writes: number;
}

/** A writer in one DC for `ms`: upserts, hot-row updates, deletes, re-inserts, counter increments. */
async function write(url: string, dc: string, ms: number): Promise<Writer> {
  const c = new Client({ connectionString: url });
  await c.connect();
  const w: Writer = { dc, added: 0, writes: 0 };
  const end = Date.now() + ms;
  try {
    while (Date.now() < end) {
      const id = 1 + rand(40);
      const r = rand(10);
      try {
        if (r < 3) await c.query(`insert into items values ($1, $2) on conflict (id) do update set v = excluded.v, touched = items.touched + 1`, [id, `${dc}:${w.writes}`]);
        else if (r < 5) await c.query(`update items set v = $1, touched = touched + 1 where id = 1`, [`${dc}:hot:${w.writes}`]);
        else if (r < 6) await c.query(`delete from items where id = $1`, [id]);
        else if (r < 7) {
          await c.query('begin');
          await c.query(`delete from items where id = $1`, [id]);
          await c.query(`insert into items values ($1, $2)`, [id, `${dc}:again:${w.writes}`]);
          await c.query('commit');
        } else {
          const res = await c.query(`update accounts set balance = balance + 1 where id = $1`, [1 + rand(5)]);
          w.added += res.rowCount ?? 0;
        }
        w.writes++;
      } catch (e) {
        await c.query('rollback').catch(() => undefined);
        if (!/duplicate key|could not serialize|deadlock/.test((e as Error).message)) throw e;
      }
    }
  } finally {
    await c.end();
  }
  return w;
}

async function expectIdentical(mesh: Mesh, table: string, order = 'id'): Promise<string[]> {
  const a = await tableRows(mesh.url[mesh.dcs[0]], table, order);
  for (const dc of mesh.dcs.slice(1)) {
    const rows = await tableRows(mesh.url[dc], table, order);
    if (JSON.stringify(rows) !== JSON.stringify(a)) await explainDifference(mesh, table);
    expect({ dc, table, rows }).toEqual({ dc, table, rows: a });
  }
  return a;
}

/** For a failing comparison: what each DC holds and knows of the rows that differ. */
async function explainDifference(mesh: Mesh, table: string): Promise<void> {
  const per = await Promise.all(mesh.dcs.map(async (dc) => new Map((await sql<{ id: number; t: string }>(mesh.url[dc], `select id, t::text as t from ${table} t`)).map((r) => [r.id, r.t]))));
  const ids = new Set(per.flatMap((m) => [...m.keys()]));
  for (const id of ids) {
    const vals = per.map((m) => m.get(id) ?? '-');
    if (new Set(vals).size === 1) continue;
    const key = `{"id": ${id}}`;
    const out: Record<string, unknown> = { id, rows: Object.fromEntries(mesh.dcs.map((dc, i) => [dc, vals[i]])) };
    for (const dc of mesh.dcs) {
      out[dc] = {
        versions: await sql(mesh.url[dc], `select ms, origin, seq, deleted, xid::text, pos from ferry.row_versions where key = $1 and tbl = $2::regclass`, [key, table]),
        conflicts: await sql(mesh.url[dc], `select rule, winner, local_version, remote_version, remote_pos from ferry.conflicts where key = $1::jsonb order by id`, [key]),
        changes: await sql(mesh.url[dc], `select id, xid::text, op, hlc, row->>'v' as v from ferry.changes where tbl = $2::regclass and row::jsonb @> $1::jsonb order by id`, [key, table]),
      };
    }
    process.stdout.write(`DIFFERENCE ${JSON.stringify(out)}\n`);
  }
}

describe.each<TransportKind>(['kafka', 'sqs'])('active-active over %s', (kind) => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('writers in three DCs at once on the same rows: all DCs end identical, counters add up, every lost write is on record', async () => {
    mesh = await createMesh(kind, DDL, TABLES);
    await countersOn(mesh);
    // the counted accounts exist everywhere before anyone counts
    await everywhere(mesh, `insert into accounts select g, 'owner ' || g, 100 from generate_series(1, 5) g`);
    for (const dc of mesh.dcs) mesh.start(dc);
    const writers = await Promise.all(mesh.dcs.map((dc) => write(mesh.url[dc], dc, Number(process.env.FERRY_AA_MS ?? 30_000))));
    // a last burst: every DC writes the same ten rows at once, so the final winners are concurrent
    const last: Record<string, Record<number, string>> = {};
    await Promise.all(
      mesh.dcs.map(async (dc) => {
        last[dc] = {};
        for (let id = 100; id < 110; id++) {
          const v = `${dc}:last`;
          await sql(mesh.url[dc], `insert into items values ($1, $2) on conflict (id) do update set v = excluded.v`, [id, v]);
          last[dc][id] = v;
        }
      }),
    );
    await mesh.drained(180_000);
    await expectIdentical(mesh, 'items');
    const accounts = await expectIdentical(mesh, 'accounts');
    // every committed increment counted once, in every DC
    const added = writers.reduce((s, w) => s + w.added, 0);
    const total = (await sql<{ s: string }>(mesh.url['dc-a'], 'select sum(balance) as s from accounts'))[0].s;
    expect(Number(total)).toBe(500 + added);
    expect(accounts).toHaveLength(5);
    // each DC whose own last write lost holds a conflict that says so
    const finals = Object.fromEntries((await sql<{ id: number; v: string }>(mesh.url['dc-a'], 'select id, v from items where id >= 100')).map((r) => [r.id, r.v]));
    let lost = 0;
    for (const dc of mesh.dcs) {
      for (let id = 100; id < 110; id++) {
        if (finals[id] === last[dc][id]) continue;
        lost++;
        const rec = await sql(mesh.url[dc], `select rule, winner, remote_origin from ferry.conflicts where tbl = 'public.items' and key = $1::jsonb and winner = 'remote' order by id desc limit 1`, [`{"id": ${id}}`]);
        expect({ dc, id, rec: rec.length }).toEqual({ dc, id, rec: 1 });
      }
    }
    expect(lost).toBe(20); // ten rows, two DCs lose each
    const conflicts = await Promise.all(mesh.dcs.map(async (dc) => Number((await sql<{ n: string }>(mesh.url[dc], 'select count(*) as n from ferry.conflicts'))[0].n)));
    const applied = await Promise.all(mesh.dcs.map(async (dc) => (await sql<{ n: string }>(mesh.url[dc], `select sum(pos) as n from ferry.applied`))[0].n));
    process.stdout.write(`active-active over ${kind}: writes ${writers.map((w) => `${w.dc} ${w.writes}`).join(', ')}; conflicts recorded ${conflicts.join('/')}; changes applied ${applied.join('/')}\n`);
    for (const dc of mesh.dcs) expect(await sql(mesh.url[dc], `select origin, error from ferry.applied where status <> 'running'`)).toEqual([]);
  }, 300_000);
});

describe('active-active, defined results', () => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  /** Writes in dc-a and dc-b while no DC applies, then lets everything flow. */
  async function concurrently(a: string[], b: string[]): Promise<void> {
    for (const dc of mesh.dcs) mesh.start(dc, { apply: false });
    for (const s of a) await sql(mesh.url['dc-a'], s);
    await new Promise((r) => setTimeout(r, 200)); // dc-b's writes are later
    for (const s of b) await sql(mesh.url['dc-b'], s);
    for (const dc of mesh.dcs) {
      await mesh.stop(dc);
      mesh.start(dc);
    }
    await mesh.drained(90_000);
  }

  it('insert/insert, update/delete, delete/update, delete/delete, key change: the later write wins everywhere; deleted rows stay deleted', async () => {
    mesh = await createMesh('kafka', DDL, TABLES);
    await everywhere(mesh, `insert into items values (2, 'base'), (3, 'base'), (4, 'base'), (5, 'base')`);
    await concurrently(
      [`insert into items values (1, 'a')`, `update items set v = 'a' where id = 2`, `delete from items where id = 3`, `delete from items where id = 4`, `update items set id = 50 where id = 5`],
      [`insert into items values (1, 'b')`, `delete from items where id = 2`, `update items set v = 'b' where id = 3`, `delete from items where id = 4`, `update items set v = 'b' where id = 5`],
    );
    // dc-b wrote last: its insert, its delete of 2, its update of 3 (the row comes back with it),
    // and its update of 5, which lost its key to dc-a's earlier key change: 5 is alive as 'b', 50 too
    const rows = await expectIdentical(mesh, 'items');
    expect(rows).toEqual(['(1,b,0)', '(3,b,0)', '(5,b,0)', '(50,base,0)']);
    // a late update of a row deleted later elsewhere does not bring it back
    mesh.dcs.forEach((dc) => void mesh.stop(dc));
    await concurrently([`update items set v = 'late' where id = 1`], [`delete from items where id = 1`]);
    expect(await expectIdentical(mesh, 'items')).toEqual(['(3,b,0)', '(5,b,0)', '(50,base,0)']);
  });

  it('a unique email inserted in two DCs under different keys: the same winner everywhere, the loser quarantined, the stream goes on', async () => {
    mesh = await createMesh('sqs', DDL, TABLES);
    await concurrently([`insert into users values (1, 'same@example.com', 'from a')`], [`insert into users values (2, 'same@example.com', 'from b')`]);
    expect(await expectIdentical(mesh, 'users')).toEqual(['(2,same@example.com,"from b")']);
    for (const dc of mesh.dcs) {
      const q = await sql<{ key: unknown; reason: string }>(mesh.url[dc], `select key, reason from ferry.quarantine`);
      expect({ dc, q }).toEqual({ dc, q: [{ key: { id: 1 }, reason: expect.stringContaining('lost users_email_key to {"id": 2}') }] });
      expect(await sql(mesh.url[dc], `select status from ferry.applied where status <> 'running'`)).toEqual([]);
    }
    // and the stream keeps flowing
    await sql(mesh.url['dc-a'], `insert into users values (3, 'other@example.com', 'later')`);
    await mesh.drained();
    expect(await expectIdentical(mesh, 'users')).toHaveLength(2);
  });

  it('a clock minutes ahead and one minutes behind: still converges, a local write after a remote one wins, the skew alarm fires', async () => {
    mesh = await createMesh('kafka', DDL, TABLES, ['a', 'b', 'c'], { conflicts: { maxClockSkewMs: 60_000 } });
    const skew: Record<string, number> = { 'dc-a': 300_000, 'dc-b': 0, 'dc-c': -300_000 };
    for (const dc of mesh.dcs) {
      await sql(mesh.url[dc], `update ferry.state set clock_offset_ms = $1`, [skew[dc]]);
      await sql(mesh.url[dc], `select ferry.install_capture(tbl) from ferry.tracked where active`);
    }
    for (const dc of mesh.dcs) mesh.start(dc);
    await sql(mesh.url['dc-a'], `insert into items values (500, 'from the future')`);
    await waitFor(async () => (await sql(mesh.url['dc-c'], `select 1 from items where id = 500`)).length > 0 || undefined, 30_000, 'the row at dc-c');
    // dc-c's clock is ten minutes behind dc-a's, but it saw dc-a's write: its own write is later
    await sql(mesh.url['dc-c'], `update items set v = 'seen, then changed' where id = 500`);
    await Promise.all(mesh.dcs.map((dc) => write(mesh.url[dc], dc, 5000)));
    await mesh.drained(90_000);
    await expectIdentical(mesh, 'items');
    for (const dc of mesh.dcs) expect(await sql(mesh.url[dc], `select v from items where id = 500`)).toEqual([{ v: 'seen, then changed' }]);
    // the alarm: dc-b and dc-c saw dc-a's changes stamped minutes ahead of their clocks
    for (const dc of ['dc-b', 'dc-c']) {
      const st = await mesh.cli(dc, ['status', '--json']);
      const s = JSON.parse(st.stdout) as { peers: { origin: string; clockSkewMs: number }[] };
      expect(s.peers.find((p) => p.origin === 'dc-a')!.clockSkewMs).toBeGreaterThan(60_000);
    }
  });
});
