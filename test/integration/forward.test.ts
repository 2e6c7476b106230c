// The origin side against real PostgreSQL, Kafka and SQS: what the forwarder publishes is read
// back from the topic / queue and checked for completeness, order and dense positions.
import { Client } from 'pg';
import { dropDatabase, freshDatabase, sql, withClient } from '../support/db';
import { byPos, expectDense, prepareOrigin, readBack, startForwarder, testConfig, TransportKind, waitFor } from '../support/origin';
import { publishedPosition } from '../../src/tables/ticks';

const DDL = `create table public.items (id int primary key, v text, n int default 0);`;

/** For each test of the enclosing describe: a fresh database with public.items tracked. */
function freshOrigin(): { url: string } {
  const db = { url: '' };
  beforeEach(async () => {
    db.url = await freshDatabase('a');
    await prepareOrigin(db.url, DDL, ['public.items']);
  });
  afterEach(() => dropDatabase(db.url));
  return db;
}

describe.each<TransportKind>(['kafka', 'sqs'])('forwarder over %s', (kind) => {
  const db = freshOrigin();

  it('publishes a transaction that wrote first but committed last, with dense positions (the commit-order trap)', async () => {
    const cfg = testConfig(db.url, kind);
    const fwd = startForwarder(cfg);
    const t1 = new Client({ connectionString: db.url });
    const t2 = new Client({ connectionString: db.url });
    await Promise.all([t1.connect(), t2.connect()]);
    try {
      await t1.query('begin');
      await t1.query(`insert into items values (1, 'T1 wrote first')`); // smaller id
      await t2.query('begin');
      await t2.query(`insert into items values (2, 'T2 wrote later')`);
      await t2.query('commit'); // T2 commits first
      // let the forwarder publish T2 (and move past its tick) before T1 commits
      await readBack(cfg, (r) => r.changes.some((c) => c.key?.id === 2));
      await t1.query('commit');
      const got = await readBack(cfg, (r) => r.changes.some((c) => c.key?.id === 1));
      const m = byPos(got.changes);
      expect(expectDense(m)).toEqual([1, 2]);
      expect([...m.values()].map((c) => c.key?.id)).toEqual([2, 1]);
      expect([...m.values()].every((c) => c.txEnd)).toBe(true);
    } finally {
      await Promise.all([t1.end(), t2.end()]);
      await fwd.stop();
    }
  });

  it('a transaction left open does not hold back the others', async () => {
    const cfg = testConfig(db.url, kind);
    const fwd = startForwarder(cfg);
    const slow = new Client({ connectionString: db.url });
    await slow.connect();
    try {
      await slow.query('begin');
      await slow.query(`insert into items values (100, 'open for a long time')`);
      for (let i = 1; i <= 5; i++) await sql(db.url, `insert into items values ($1, 'quick')`, [i]);
      const got = await readBack(cfg, (r) => byPos(r.changes).size >= 5);
      expect([...byPos(got.changes).values()].map((c) => c.key?.id)).toEqual([1, 2, 3, 4, 5]);
      await slow.query('commit');
      const after = await readBack(cfg, (r) => r.changes.some((c) => c.key?.id === 100));
      expect(expectDense(byPos(after.changes))).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await slow.end();
      await fwd.stop();
    }
  });

  it('two updates of one row by two transactions arrive in commit order, not xid order', async () => {
    await sql(db.url, `insert into items values (1, 'start')`);
    const older = new Client({ connectionString: db.url });
    const newer = new Client({ connectionString: db.url });
    await Promise.all([older.connect(), newer.connect()]);
    try {
      // `older` takes its xid first, but updates row 1 only after `newer` has updated and committed it
      await older.query('begin');
      await older.query(`insert into items values (2, 'gives older its xid')`);
      await newer.query('begin');
      await newer.query(`update items set v = 'first update' where id = 1`);
      await newer.query('commit');
      await older.query(`update items set v = 'second update' where id = 1`);
      await older.query('commit');
    } finally {
      await Promise.all([older.end(), newer.end()]);
    }
    const cfg = testConfig(db.url, kind);
    const fwd = startForwarder(cfg);
    try {
      const got = await readBack(cfg, (r) => byPos(r.changes).size >= 4);
      const seq = [...byPos(got.changes).values()].filter((c) => c.key?.id === 1).map((c) => c.row?.v);
      expect(seq).toEqual(['start', 'first update', 'second update']);
    } finally {
      await fwd.stop();
    }
  });

  it('captures updates, key changes, deletes and TRUNCATE, but not writes tagged with ferry.origin', async () => {
    const cfg = testConfig(db.url, kind);
    const fwd = startForwarder(cfg);
    try {
      await sql(db.url, `insert into items values (1, 'a'), (2, 'b')`);
      await sql(db.url, `update items set v = 'a2' where id = 1`);
      await sql(db.url, `update items set id = 20 where id = 2`);
      await sql(db.url, `delete from items where id = 1`);
      const c = new Client({ connectionString: db.url });
      await c.connect();
      await c.query('begin');
      await c.query(`select set_config('ferry.origin', 'dc-b', true)`);
      await c.query(`insert into items values (99, 'applied from dc-b')`);
      await c.query('commit');
      await c.end();
      await sql(db.url, `truncate items`);
      const got = await readBack(cfg, (r) => r.changes.some((x) => x.op === 'T'));
      const changes = [...byPos(got.changes).values()];
      expect(changes.map((x) => [x.op, x.key, x.old])).toEqual([
        ['I', { id: 1 }, null],
        ['I', { id: 2 }, null],
        ['U', { id: 1 }, null],
        ['U', { id: 20 }, { id: 2 }],
        ['D', { id: 1 }, null],
        ['T', null, null],
      ]);
      expect(changes[0].table).toBe('public.items');
      expect(changes.some((x) => x.key?.id === 99)).toBe(false);
    } finally {
      await fwd.stop();
    }
  });
});

describe('ferry.tick()', () => {
  const db = freshOrigin();

  it('a writer open across a tick while the ticker is awake is published promptly after its commit', async () => {
    // the real interleaving of the case below: on a quiet cluster every round used to wait for
    // the next write (20 of 20 in a probe), however long that took
    const cfg = testConfig(db.url, 'kafka');
    const fwd = startForwarder(cfg);
    const w = new Client({ connectionString: db.url });
    await w.connect();
    const published = async () =>
      await withClient(db.url, publishedPosition);
    try {
      for (let i = 1; i <= 5; i++) {
        await new Promise((r) => setTimeout(r, 100)); // short of idleAfterMs: the ticker polls
        await w.query('begin');
        await w.query(`insert into items values ($1, 'open across a tick')`, [i]);
        await new Promise((r) => setTimeout(r, 120)); // ticks (20 ms) are cut while it is open
        await w.query('commit');
        await waitFor(async () => (await published()) >= i, 5000, `change ${i} to be published without another write`, 20);
      }
    } finally {
      await w.end();
      await fwd.stop();
    }
  });

  it('cuts a tick for a writer that was open at the last tick above its xmax, once it commits', async () => {
    // PostgreSQL's snapshot xmax is latestCompletedXid + 1 and xip lists running xids below it
    // only. On a quiet database the newest writer is therefore in no list at the tick it is
    // open in. This tick row is exactly what ferry.tick() records then (made by hand: on a
    // shared cluster other sessions' commits make the interleaving a matter of luck).
    const w = new Client({ connectionString: db.url });
    await w.connect();
    try {
      await w.query('begin');
      await w.query(`insert into items values (1, 'open at the tick')`);
      const xid = (await w.query<{ x: string }>('select pg_current_xact_id()::text as x')).rows[0].x;
      await sql(
        db.url,
        `insert into ferry.ticks (tick, snap, last_id)
         select max(tick) + 1, ($1 || ':' || $1 || ':')::pg_snapshot, (select last_value from ferry.change_id_seq) from ferry.ticks`,
        [xid],
      );
      const before = await sql<{ tick: string | null }>(db.url, 'select tick from ferry.tick(false, 1)');
      expect(before[0].tick).toBeNull(); // still open: nothing to cut
      await w.query('commit');
      // between two due ticks (asked for tickMaxChanges) a late writer alone waits for the interval
      expect((await sql<{ tick: string | null }>(db.url, 'select tick from ferry.tick(false, 1000)'))[0].tick).toBeNull();
      // no new id moved the sequence, and no writer listed in xip ended: the change must still get a tick
      const after = await sql<{ tick: string | null; pending: string }>(db.url, 'select tick, pending from ferry.tick(false, 1)');
      expect(after[0].tick).not.toBeNull();
      const inBatch = await sql<{ n: string }>(
        db.url,
        `select count(*) as n from ferry.changes c, (select snap from ferry.ticks order by tick desc limit 1 offset 1) p, (select snap from ferry.ticks order by tick desc limit 1) t
          where pg_visible_in_snapshot(c.xid, t.snap) and not pg_visible_in_snapshot(c.xid, p.snap)`,
      );
      expect(Number(inBatch[0].n)).toBe(1);
      // and nothing more is cut once it is in a tick
      expect((await sql<{ tick: string | null }>(db.url, 'select tick from ferry.tick(false, 1)'))[0].tick).toBeNull();
    } finally {
      await w.end();
    }
  });
});
