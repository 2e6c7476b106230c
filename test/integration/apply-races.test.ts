// Races at one DC between the appliers of two origins, and between an applier and the application
// (DESIGN.md §6): whoever commits first, the row and its version end where the versions say.
// Each race is forced step by step on a real database: one transaction is held open while the
// other is shown waiting on a lock, then the first commits.
import { Client } from 'pg';
import { GroupWriter } from '../../src/apply/group-writer';
import { LocalWriteRace } from '../../src/apply/local-write-race';
import { TableCatalog } from '../../src/apply/table-info';
import { migrate } from '../../src/capture/migrate';
import type { Change } from '../../src/protocol/envelope';
import { dropDatabase, freshDatabase } from '../support/db';
import { quietLog, waitFor } from '../support/origin';

/** An applier's destination transaction: tagged with the origin (so capture skips it), as dest-tx.ts does. */
async function begin(db: Client, origin: string): Promise<void> {
  await db.query('begin');
  await db.query(`select set_config('ferry.origin', $1, true)`, [origin]);
}

const writer = (db: Client, origin: string) =>
  new GroupWriter(db, { catalog: new TableCatalog(db, origin), origin, self: 'dc-a', policy: { kind: 'lww' }, maxClockSkewMs: 600_000, onClockSkew: 'alert', keepVersions: true, log: quietLog });

let pos = 0;
function change(op: 'I' | 'D', id: number, ms: number, v?: string): Change {
  pos++;
  return { pos, id: pos, xid: String(pos), txEnd: true, table: 'public.items', op, key: `{"id": ${id}}`, row: op === 'D' ? null : JSON.stringify({ id, v }), old: null, at: new Date().toISOString(), ms };
}

/** Until the backend of `c` waits for a lock. */
async function waitingOnLock(probe: Client, c: Client): Promise<void> {
  const pid = (c as unknown as { processID: number }).processID;
  await waitFor(async () => (await probe.query(`select 1 from pg_stat_activity where pid = $1 and wait_event_type = 'Lock'`, [pid])).rows.length > 0 || undefined, 10_000, 'a lock wait');
}

describe('apply races at one DC', () => {
  let url: string;
  const clients: Client[] = [];
  let a: Client, b: Client, local: Client, probe: Client;
  beforeEach(async () => {
    url = await freshDatabase('a');
    for (let i = 0; i < 4; i++) {
      const c = new Client({ connectionString: url, pipeline: true });
      await c.connect();
      clients.push(c);
    }
    [a, b, local, probe] = clients;
    await migrate(probe, { origin: 'dc-a' });
    await probe.query(`create table public.items (id int primary key, v text)`);
    await probe.query(`select ferry.track('public.items')`);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.end();
    await dropDatabase(url);
  });

  const now = async () => Number((await probe.query<{ ms: string }>('select ferry.wall_ms() as ms')).rows[0].ms);
  const rows = async () => (await probe.query<{ t: string }>(`select t::text from items t order by id`)).rows.map((r) => r.t);
  const entry = async (id: number) => (await probe.query(`select ms::text, origin, deleted from ferry.row_versions where key = $1`, [`{"id": ${id}}`])).rows;

  it('key columns named like the names the applier gives its own columns (n, ferry_key) are written like any other', async () => {
    await probe.query(`create table public.odd (n int, ferry_key text, v text, primary key (n, ferry_key)); select ferry.track('public.odd')`);
    const t0 = await now();
    const odd = (op: 'I' | 'D', ms: number, v?: string): Change => ({ ...change(op, 0, ms, v), table: 'public.odd', key: `{"n": 1, "ferry_key": "k"}`, row: op === 'D' ? null : JSON.stringify({ n: 1, ferry_key: 'k', v }) });
    for (const [c, want] of [
      [odd('I', t0, 'one'), ['(1,k,one)']],
      [odd('I', t0 + 1, 'two'), ['(1,k,two)']],
      [odd('D', t0 + 2), []],
    ] as const) {
      await begin(a, 'dc-b');
      await writer(a, 'dc-b').write([c]);
      await a.query('commit');
      expect((await probe.query<{ t: string }>(`select t::text from odd t`)).rows.map((r) => r.t)).toEqual(want);
    }
  });

  it("conflicts.policy function: the user's SQL function chooses between the two rows, its choice is on record, and an answer that is not 'local' or 'remote' stops the stream", async () => {
    await probe.query(`create table public.scores (id int primary key, score int);
      select ferry.track('public.scores');
      create function public.higher_score(t text, k jsonb, l jsonb, r jsonb) returns text language sql
        as $$ select case when (l->>'score')::int >= (r->>'score')::int then 'local' else 'remote' end $$;
      create function public.undecided(t text, k jsonb, l jsonb, r jsonb) returns text language sql as $$ select 'both' $$;`);
    const t0 = await now();
    const score = (id: number, v: number, ms: number): Change => ({ ...change('I', id, ms), table: 'public.scores', row: JSON.stringify({ id, score: v }) });
    const byFn = (db: Client, origin: string, fn: string) =>
      new GroupWriter(db, { catalog: new TableCatalog(db, origin), origin, self: 'dc-a', policy: { kind: 'lww' }, fn, maxClockSkewMs: 600_000, onClockSkew: 'alert', keepVersions: true, log: quietLog });
    const apply = async (origin: string, c: Change, fn = 'public.higher_score') => {
      await begin(a, origin);
      try {
        await byFn(a, origin, fn).write([c]);
        await a.query('commit');
      } catch (e) {
        await a.query('rollback');
        throw e;
      }
    };
    await apply('dc-c', score(1, 10, t0));
    // later by version, lower by score: the function keeps the row here
    await apply('dc-b', score(1, 5, t0 + 1000));
    expect((await probe.query(`select score from scores where id = 1`)).rows).toEqual([{ score: 10 }]);
    // higher: the remote row
    await apply('dc-b', score(1, 20, t0 + 2000));
    expect((await probe.query(`select score from scores where id = 1`)).rows).toEqual([{ score: 20 }]);
    expect((await probe.query(`select rule, winner, remote_origin from ferry.conflicts where tbl = 'public.scores' order by id`)).rows).toEqual([
      { rule: 'function', winner: 'local', remote_origin: 'dc-b' },
      { rule: 'function', winner: 'remote', remote_origin: 'dc-b' },
    ]);
    await expect(apply('dc-c', score(1, 1, t0 + 3000), 'public.undecided')).rejects.toThrow(/public.undecided returned "both"; it must return 'local' or 'remote'/);
  });

  it("two appliers find a key free at once (one inserts, one deletes with a later version): the later one goes again and the delete wins", async () => {
    const t0 = await now();
    await begin(a, 'dc-b');
    await writer(a, 'dc-b').write([change('I', 1, t0, 'from b')]);
    await begin(b, 'dc-c');
    const del = writer(b, 'dc-c').write([change('D', 1, t0 + 1000)]);
    const outcome = del.then(() => 'applied', (e: unknown) => e);
    await waitingOnLock(probe, b);
    await a.query('commit');
    expect(await outcome).toBeInstanceOf(LocalWriteRace);
    await b.query('rollback');
    // the group again, over what the other applier left
    await begin(b, 'dc-c');
    await writer(b, 'dc-c').write([change('D', 1, t0 + 1000)]);
    await b.query('commit');
    expect(await rows()).toEqual([]);
    expect(await entry(1)).toEqual([{ ms: String(t0 + 1000), origin: 'dc-c', deleted: true }]);
  });

  it('an application insert in flight while an applier deletes the absent key with a later version: the applier sees the row and deletes it', async () => {
    await probe.query(`insert into items values (2, 'old'); delete from items where id = 2`); // a tombstone
    const d = (await now()) + 30_000;
    await local.query('begin');
    await local.query(`insert into items values (2, 'local')`);
    await begin(b, 'dc-c');
    const del = writer(b, 'dc-c').write([change('D', 2, d)]);
    const outcome = del.then(() => 'applied', (e: unknown) => e);
    await waitingOnLock(probe, b);
    await local.query('commit');
    expect(await outcome).toBeInstanceOf(LocalWriteRace);
    await b.query('rollback');
    await begin(b, 'dc-c');
    await writer(b, 'dc-c').write([change('D', 2, d)]);
    await b.query('commit');
    expect(await rows()).toEqual([]);
  });

  it("an application write with a newer xid than the applier's open transaction, committed before the applier reads the row: its version is found, so an older remote change loses", async () => {
    const t0 = await now();
    await begin(a, 'dc-b');
    // the applier's transaction has written a row of its group already: it holds an xid
    await writer(a, 'dc-b').write([change('I', 5, t0, 'from b')]);
    // then the application writes key 4 in a transaction of its own (a newer xid) and commits
    await local.query(`insert into items values (4, 'local')`);
    const xids = (await a.query<{ mine: string; row: string }>(`select pg_current_xact_id()::text as mine, (select xmin::text from items where id = 4) as row`)).rows[0];
    expect(Number(xids.row)).toBeGreaterThan(Number(xids.mine));
    // an older change of dc-b to key 4 comes in the same destination transaction: the local write is newer
    await writer(a, 'dc-b').write([change('I', 4, t0 - 60_000, 'from b, older')]);
    await a.query('commit');
    expect(await rows()).toEqual(['(4,local)', '(5,"from b")']);
    const resolved = await probe.query(`select winner, local_origin, remote_origin from ferry.conflicts where key = '{"id": 4}'::jsonb`);
    expect(resolved.rows).toEqual([{ winner: 'local', local_origin: 'dc-a', remote_origin: 'dc-b' }]);
  });

  it('an application insert that comes while an applier records a later delete of the key: the insert is stamped after the delete, so it wins everywhere', async () => {
    await probe.query(`insert into items values (3, 'old'); delete from items where id = 3`);
    const d = (await now()) + 30_000;
    await begin(b, 'dc-c');
    await writer(b, 'dc-c').write([change('D', 3, d)]);
    const ins = local.query(`insert into items values (3, 'local')`);
    await waitingOnLock(probe, local);
    await b.query('commit');
    await ins;
    const hlc = (await probe.query<{ hlc: string }>(`select hlc::text from ferry.changes where op = 'I' and row->>'v' = 'local'`)).rows;
    expect(hlc).toHaveLength(1);
    expect(Number(hlc[0].hlc)).toBeGreaterThan(d);
    expect(await rows()).toEqual(['(3,local)']);
  });
  it("an application increment of a counter that commits while the applier sums the row's shares: the sum counts it", async () => {
    await probe.query(`create table public.acct (id int primary key, balance bigint not null); select ferry.track('public.acct', null, '{balance}')`);
    await probe.query(`insert into acct values (1, 100)`);
    // the application holds the row, its increment (share dc-a 100 → 101) not yet committed
    await local.query('begin');
    await local.query(`update acct set balance = balance + 1 where id = 1`);
    // dc-b's change is older than the row here (it loses the row) but brings dc-b's share, 5
    const remote: Change = { ...change('I', 1, (await now()) - 60_000), table: 'public.acct', row: JSON.stringify({ id: 1, balance: 105 }), counters: { balance: { 'dc-b': '5' } } };
    await begin(b, 'dc-b');
    const applying = writer(b, 'dc-b').write([remote]);
    await waitingOnLock(probe, b);
    await local.query('commit');
    await applying;
    await b.query('commit');
    expect((await probe.query(`select balance::int from acct where id = 1`)).rows).toEqual([{ balance: 106 }]);
  });
});
