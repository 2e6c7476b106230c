// `ferry bootstrap --from dc-a` fills an empty dc-c while dc-a and dc-b keep writing the same rows
// (DESIGN.md §7): once writes stop and the streams drain, the three DCs hold identical rows. A
// bootstrap killed (kill -9) in the middle of a table resumes: it skips the tables it had copied.
import { Client } from 'pg';
import { sql } from '../support/db';
import { createMesh, Mesh } from '../support/mesh';
import { TransportKind, waitFor } from '../support/origin';

/** 1M in the acceptance run (FERRY_BOOTSTRAP_ROWS=1000000); smaller by default to keep `make test` short. */
const ROWS = Number(process.env.FERRY_BOOTSTRAP_ROWS ?? 200_000);

const DDL = `
create type public.mood as enum ('ok', 'meh', 'great');
create table public.big (id bigint primary key, v text not null, n numeric(12,2), at timestamptz not null, doc jsonb, tags text[]);
create table public.parent (id int primary key, name text not null);
create table public.child (id int primary key, parent_id int not null references public.parent (id) on delete cascade, note text);
create table public.acct (id int primary key, balance bigint not null default 0);
create table public.moods (id int primary key, m public.mood not null, note text);`;
const TABLES = ['public.big', 'public.parent', 'public.child', 'public.acct', 'public.moods'];

/** Rows every running DC holds before the bootstrap (written as setup: not captured). */
async function seed(url: string, rows: number): Promise<void> {
  await sql(
    url,
    `select set_config('ferry.origin', 'setup', false);
     insert into big select g, 'v' || g, g / 7.0, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', jsonb_build_object('g', g, 'x', 'y'), array['a', g::text] from generate_series(1, ${rows}) g;
     insert into parent select g, 'p' || g from generate_series(1, 100) g;
     insert into child select g, 1 + g % 100, 'c' || g from generate_series(1, 1000) g;
     insert into acct select g, 100 from generate_series(1, 5) g;
     insert into moods select g, (array['ok', 'meh', 'great']::mood[])[1 + g % 3], 'm' || g from generate_series(1, 1000) g;`,
  );
}

const rand = (n: number) => Math.floor(Math.random() * n);

/** Writes in one DC until stopped: updates of old and hot rows, inserts, deletes, counters, children. */
function writer(url: string, dc: string, stop: { now: boolean }): Promise<number> {
  return (async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    let n = 0;
    try {
      while (!stop.now) {
        const r = rand(10);
        const hot = 1 + rand(50);
        try {
          if (r < 3) await c.query(`update big set v = $2, n = n + 1 where id = $1`, [r < 1 ? hot : 1 + rand(ROWS), `${dc}:${n}`]);
          else if (r < 5) await c.query(`insert into big values ($1, $2, 1, now(), '{"new": true}', '{x}') on conflict (id) do update set v = excluded.v`, [ROWS + 1 + rand(2000), `${dc}:${n}`]);
          else if (r < 6) await c.query(`delete from big where id = $1`, [r < 5.5 ? hot : 1 + rand(ROWS)]);
          else if (r < 7) await c.query(`update acct set balance = balance + 1 where id = $1`, [1 + rand(5)]);
          else if (r < 8) await c.query(`insert into child values ($1, $2, $3) on conflict (id) do update set note = excluded.note`, [1 + rand(2000), 1 + rand(100), `${dc}:${n}`]);
          else if (r < 9) await c.query(`update moods set m = $2, note = $3 where id = $1`, [1 + rand(1000), ['ok', 'meh', 'great'][rand(3)], `${dc}:${n}`]);
          else await c.query(`update parent set name = $2 where id = $1`, [1 + rand(100), `${dc}:${n}`]);
          n++;
        } catch (e) {
          if (!/duplicate key|deadlock|could not serialize/.test((e as Error).message)) throw e;
        }
      }
    } finally {
      await c.end();
    }
    return n;
  })();
}

/** Every table hashed in key order: the same in every DC. */
async function expectIdentical(mesh: Mesh): Promise<void> {
  const fingerprint = async (dc: string) => {
    const out: Record<string, string> = {};
    for (const t of TABLES) out[t] = (await sql<{ f: string }>(mesh.url[dc], `select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by id)), '') as f from ${t} t`))[0].f;
    return out;
  };
  const a = await fingerprint('dc-a');
  expect(await fingerprint('dc-b')).toEqual(a);
  expect(await fingerprint('dc-c')).toEqual(a);
}

async function setUp(kind: TransportKind, rows: number): Promise<Mesh> {
  const mesh = await createMesh(kind, DDL, TABLES);
  for (const dc of mesh.dcs) await sql(mesh.url[dc], `select ferry.track('public.acct', null, '{balance}')`);
  // dc-c only has the tables, tracked; its config knows where dc-a's database is
  mesh.cfg['dc-c'].peerDatabases = { 'dc-a': mesh.url['dc-a'] };
  await seed(mesh.url['dc-a'], rows);
  await seed(mesh.url['dc-b'], rows);
  mesh.start('dc-a');
  mesh.start('dc-b');
  return mesh;
}

describe('ferry bootstrap', () => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it(`over kafka: ${ROWS} rows in dc-a, dc-a and dc-b writing during the copy → dc-c holds what every DC holds`, async () => {
    mesh = await setUp('kafka', ROWS);
    const stop = { now: false };
    const writers = ['dc-a', 'dc-b'].map((dc) => writer(mesh.url[dc], dc, stop));
    const started = Date.now();
    const r = await mesh.cli('dc-c', ['bootstrap', '--from', 'dc-a']);
    const seconds = (Date.now() - started) / 1000;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/public\.big: \d+ rows copied in/) });
    expect(r.stdout).toMatch(/copied \d+ rows of 5 table\(s\) from dc-a/);
    const start = await sql<{ origin: string; pos: string }>(mesh.url['dc-c'], 'select origin, pos from ferry.applied order by origin');
    expect(start.map((x) => x.origin)).toEqual(['dc-a', 'dc-b']);
    mesh.start('dc-c');
    // writes go on while dc-c catches up with both streams, then stop
    const moved = `select count(*) as n from ferry.applied a join unnest($1::text[], $2::bigint[]) s(o, p) on s.o = a.origin where a.pos > s.p`;
    await waitFor(async () => (await sql<{ n: string }>(mesh.url['dc-c'], moved, [start.map((x) => x.origin), start.map((x) => x.pos)]))[0].n === '2', 120_000, 'dc-c to apply both streams');
    stop.now = true;
    const written = await Promise.all(writers);
    await mesh.drained(180_000);
    await expectIdentical(mesh);
    // every counted increment once, in every DC
    const sums = await Promise.all(mesh.dcs.map(async (dc) => (await sql<{ s: string }>(mesh.url[dc], 'select sum(balance) as s from acct'))[0].s));
    expect(new Set(sums).size).toBe(1);
    process.stdout.write(`bootstrap over kafka: ${ROWS} rows of public.big copied in ${seconds.toFixed(1)} s (the CLI's own run) while dc-a and dc-b made ${written.join(' + ')} writes\n`);
    for (const dc of mesh.dcs) expect(await sql(mesh.url[dc], `select origin, error from ferry.applied where status <> 'running'`)).toEqual([]);
  }, 600_000);

  it('over sqs: killed (kill -9) in the middle of a table, a rerun skips the tables it copied and ends identical', async () => {
    mesh = await setUp('sqs', 20_000);
    const stop = { now: false };
    const writers = ['dc-a', 'dc-b'].map((dc) => writer(mesh.url[dc], dc, stop));
    // the copy kills itself with SIGKILL once two groups are committed and the third is streaming
    const killed = await mesh.cli('dc-c', ['bootstrap', '--from', 'dc-a'], { FERRY_FAILPOINT: 'bootstrap-kill-after:2' });
    expect(killed.code).toBeNull();
    const copied = await sql<{ tbl: string }>(mesh.url['dc-c'], 'select tbl from ferry.bootstrap_tables order by tbl');
    expect(copied.length).toBeGreaterThanOrEqual(2);
    expect(copied.length).toBeLessThan(TABLES.length);
    // Ferry refuses to run a half-bootstrapped DC, and says how to finish it
    const refused = await mesh.cli('dc-c', ['run']);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('run `ferry bootstrap --from dc-a` again') });
    const again = await mesh.cli('dc-c', ['bootstrap', '--from', 'dc-a']);
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: expect.stringContaining(`resuming: ${copied.length} table(s) copied by an earlier run are skipped (${copied.map((c) => c.tbl).join(', ')})`) });
    expect((await mesh.cli('dc-c', ['bootstrap', '--from', 'dc-a'])).stdout).toMatch(/bootstrapped from dc-a already: nothing to do/);
    mesh.start('dc-c');
    stop.now = true;
    await Promise.all(writers);
    await mesh.drained(180_000);
    await expectIdentical(mesh);
  }, 600_000);
});
