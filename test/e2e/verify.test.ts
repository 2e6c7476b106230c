// `ferry verify` (DESIGN.md §7): rows changed behind Ferry's back are named exactly, `--repair
// --from` makes every DC agree through the stream, and a running write load is never reported as a
// difference.
import { Client } from 'pg';
import { sql } from '../support/db';
import { createMesh, Mesh } from '../support/mesh';

const DDL = `
create table public.items (id int primary key, v text not null, n int not null default 0, at timestamptz not null default '2026-01-01');
create table public.notes (a int, b text, body jsonb, primary key (a, b));`;
const TABLES = ['public.items', 'public.notes'];
const ROWS = 20_000;

async function setUp(): Promise<Mesh> {
  // ticks of 200 ms: under a steady load each tick is a batch to publish, and three forwarders
  // sharing this process with six appliers keep up with five a second each, not fifty
  const mesh = await createMesh('kafka', DDL, TABLES, ['a', 'b', 'c'], { forward: { tickIntervalMs: 200 } });
  for (const dc of mesh.dcs) {
    await sql(
      mesh.url[dc],
      `select set_config('ferry.origin', 'setup', false);
       insert into items select g, 'v' || g from generate_series(1, ${ROWS}) g;
       insert into notes select g % 100, 'b' || g, jsonb_build_object('g', g) from generate_series(1, 3000) g;`,
    );
  }
  mesh.cfg['dc-a'].peerDatabases = { 'dc-b': mesh.url['dc-b'], 'dc-c': mesh.url['dc-c'] };
  for (const dc of mesh.dcs) mesh.start(dc);
  return mesh;
}

interface Report {
  equal: boolean;
  undecided: boolean;
  tables: { table: string; peer: string; differences: { key: string; here: string | null; there: string | null }[]; unsettled: string[]; note?: string }[];
}

const differing = (r: Report) => r.tables.flatMap((t) => t.differences.map((d) => `${t.peer} ${t.table} ${d.key} ${d.here === null ? 'missing-here' : d.there === null ? 'missing-there' : 'differs'}`)).sort();

describe('ferry verify', () => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('names exactly the rows changed behind Ferry\'s back in one DC; --repair --from makes every DC agree', async () => {
    mesh = await setUp();
    // not captured: a session that says it is Ferry's applier
    await sql(
      mesh.url['dc-b'],
      `begin;
       select set_config('ferry.origin', 'x', true);
       update items set v = 'corrupt' where id = 4242;
       delete from items where id = 777;
       insert into items values (${ROWS + 5}, 'only in dc-b');
       update notes set body = '{"corrupt": true}' where a = 7 and b = 'b1007';
       commit;`,
    );
    const first = await mesh.cli('dc-a', ['verify', '--json', '--settle-ms', '120000']);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 1, stderr: '' });
    const report = JSON.parse(first.stdout) as Report;
    expect(differing(report)).toEqual([
      'dc-b public.items {"id": 4242} differs',
      `dc-b public.items {"id": ${ROWS + 5}} missing-here`,
      'dc-b public.items {"id": 777} missing-there',
      'dc-b public.notes {"a": 7, "b": "b1007"} differs',
    ].sort());
    const text = await mesh.cli('dc-a', ['verify', '--table', 'public.items']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/public\.items vs dc-b: 3 key\(s\) differ/);
    expect(text.stdout).toMatch(/\{"id": 777\}\s+missing in dc-b/);
    expect(text.stdout).toMatch(/public\.items vs dc-c: equal \(20000 rows here, 20000 in dc-c\)/);

    const fixed = await mesh.cli('dc-a', ['verify', '--repair', '--from', 'dc-a']);
    expect({ code: fixed.code, stderr: fixed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(fixed.stdout).toMatch(/re-sent .*\{"id": 4242\}/);
    expect(fixed.stdout).toMatch(new RegExp(`deleted \\{"id": ${ROWS + 5}\\} in dc-b`));
    await mesh.drained(120_000);
    const after = await mesh.cli('dc-a', ['verify', '--json']);
    expect({ code: after.code, differing: differing(JSON.parse(after.stdout) as Report) }).toEqual({ code: 0, differing: [] });
    expect((await sql(mesh.url['dc-b'], 'select v from items where id = 777'))[0]).toEqual({ v: 'v777' });
  }, 600_000);

  it('under a running write load in every DC, reports no difference', async () => {
    mesh = await setUp();
    const stop = { now: false };
    let writes = 0;
    const writers = mesh.dcs.map(async (dc) => {
      const c = new Client({ connectionString: mesh.url[dc] });
      await c.connect();
      try {
        for (let i = 0; !stop.now; i++) {
          const id = 1 + Math.floor(Math.random() * (ROWS + 500));
          const r = i % 10;
          try {
            if (r < 6) await c.query(`insert into items values ($1, $2) on conflict (id) do update set v = excluded.v, n = items.n + 1`, [id, `${dc}:${i}`]);
            else if (r < 8) await c.query(`delete from items where id = $1`, [id]);
            else await c.query(`update notes set body = $2 where a = $1 % 100 and b = 'b' || $1 % 3000`, [id, JSON.stringify({ dc, i })]);
            writes++;
          } catch (e) {
            if (!/duplicate key|deadlock/.test((e as Error).message)) throw e;
          }
          // a steady load the shared 2-core test machine keeps up with: the three DCs' Ferries run in
          // this one process, beside the databases, the broker and the writers (~150 writes/s in all)
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        await c.end();
      }
    });
    const runs: Report[] = [];
    // keys that differed when first read (changes in flight): verify had to tell them from real differences
    let inFlight = 0;
    for (let i = 0; i < 2; i++) {
      const t0 = Date.now();
      const r = await mesh.cli('dc-a', ['verify', '--json', '--verbose', '--settle-ms', '120000']);
      process.stdout.write(`verify under load, run ${i + 1}: exit ${r.code} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n${r.stderr}`);
      // --verbose says what it did on stderr; an error would be a line of its own
      expect({ errors: r.stderr.split('\n').filter((l) => l && !l.startsWith('verify: ')), code: r.code === 1 ? `1 (false difference: ${r.stdout})` : 'not 1' }).toEqual({ errors: [], code: 'not 1' });
      runs.push(JSON.parse(r.stdout) as Report);
      inFlight += [...r.stderr.matchAll(/(\d+) key\(s\) to look at again/g)].reduce((n, m) => n + Number(m[1]), 0);
    }
    stop.now = true;
    await Promise.all(writers);
    for (const r of runs) expect(differing(r)).toEqual([]);
    expect(inFlight).toBeGreaterThan(0);
    const undecided = runs.map((r) => r.tables.reduce((n, t) => n + t.unsettled.length, 0));
    process.stdout.write(`verify under load: ${writes} writes during two runs; keys left undecided per run: ${undecided.join(', ')}\n`);
    await mesh.drained(120_000);
    const quiet = await mesh.cli('dc-a', ['verify', '--json']);
    expect(quiet.code).toBe(0);
  }, 600_000);
});
