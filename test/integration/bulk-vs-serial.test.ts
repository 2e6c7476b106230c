// The bulk path (a group collapsed to each row's final state, written per table in set-based
// statements, tables in foreign-key order) leaves exactly the tables the change-by-change path
// (what the applier does to find a change at fault) leaves, and both equal the origin, for random histories: inserts, updates, deletes, key changes
// with ON UPDATE CASCADE, children moving between parents, ON DELETE CASCADE, a unique column
// whose values move between rows, TRUNCATE. Histories are made by fast-check and run on a real
// origin with Ferry's triggers; the changes are the ones Ferry captures.
import fc from 'fast-check';
import { Client } from 'pg';
import { GroupWriter } from '../../src/apply/group-writer';
import { TableCatalog } from '../../src/apply/table-info';
import { quietLog } from '../support/origin';
import { migrate } from '../../src/capture/migrate';
import { readBatch } from '../../src/forward/batch-reader';
import type { Change } from '../../src/protocol/envelope';
import { markPublished, nextBatch } from '../../src/tables/ticks';
import { dropDatabase, freshDatabase } from '../support/db';

const TABLES = `
create table parent (id int primary key, v text);
create table child (id int primary key, parent_id int references parent (id) on update cascade on delete cascade, v text);
create table users (id int primary key, email text unique, n int not null default 0);`;

type Op =
  | { t: 'insParent'; id: number; v: string }
  | { t: 'updParent'; id: number; v: string }
  | { t: 'delParent'; id: number }
  | { t: 'rekeyParent'; id: number; to: number }
  | { t: 'insChild'; id: number; parent: number; v: string }
  | { t: 'moveChild'; id: number; parent: number }
  | { t: 'delChild'; id: number }
  | { t: 'insUser'; id: number; email: number }
  | { t: 'swapEmails'; a: number; b: number }
  | { t: 'bumpUser'; id: number }
  | { t: 'truncateUsers' };

const pid = fc.integer({ min: 1, max: 12 });
const cid = fc.integer({ min: 1, max: 20 });
const uid = fc.integer({ min: 1, max: 8 });
const word = fc.constantFrom('a', 'b', 'ü', "o'k", 'x"y');
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('insParent' as const), id: pid, v: word }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('updParent' as const), id: pid, v: word }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('delParent' as const), id: pid }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rekeyParent' as const), id: pid, to: pid }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('insChild' as const), id: cid, parent: pid, v: word }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('moveChild' as const), id: cid, parent: pid }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('delChild' as const), id: cid }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('insUser' as const), id: uid, email: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('swapEmails' as const), a: uid, b: uid }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('bumpUser' as const), id: uid }) },
  { weight: 1, arbitrary: fc.constant({ t: 'truncateUsers' as const }) },
);
const history = fc.array(fc.array(op, { minLength: 1, maxLength: 5 }), { minLength: 10, maxLength: 60 });
/** Where the applier's groups end, as a count of source transactions per group. */
const cuts = fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 20 });

const SQL: Record<Op['t'], (o: never) => [string, unknown[]][]> = {
  insParent: (o: { id: number; v: string }) => [['insert into parent values ($1, $2)', [o.id, o.v]]],
  updParent: (o: { id: number; v: string }) => [['update parent set v = v || $2 where id = $1', [o.id, o.v]]],
  delParent: (o: { id: number }) => [['delete from parent where id = $1', [o.id]]],
  rekeyParent: (o: { id: number; to: number }) => [['update parent set id = $2 where id = $1', [o.id, o.to]]],
  insChild: (o: { id: number; parent: number; v: string }) => [['insert into child values ($1, $2, $3)', [o.id, o.parent, o.v]]],
  moveChild: (o: { id: number; parent: number }) => [['update child set parent_id = $2 where id = $1', [o.id, o.parent]]],
  delChild: (o: { id: number }) => [['delete from child where id = $1', [o.id]]],
  insUser: (o: { id: number; email: number }) => [['insert into users (id, email) values ($1, $2)', [o.id, `e${o.email}`]]],
  // the values move between two rows inside one transaction, through NULL
  swapEmails: (o: { a: number; b: number }) => [
    ['update users set email = null, n = n + 1 where id = $1 returning 1', [o.a]],
    ['update users set email = (select email from users where id = $2 for update) where id = $1', [o.a, o.b]],
    ['update users set email = null where id = $2 and id <> $1', [o.a, o.b]],
    ["update users set email = 'e' || (7 + $1) where id = $2 and id <> $1", [o.a, o.b]],
  ],
  bumpUser: (o: { id: number }) => [['update users set n = n + 1 where id = $1', [o.id]]],
  truncateUsers: () => [['truncate users', []]],
};

/** Runs the history at the origin; an operation the schema refuses is rolled back to its savepoint. */
async function run(db: Client, txs: Op[][]): Promise<void> {
  for (const tx of txs) {
    await db.query('begin');
    for (const o of tx) {
      await db.query('savepoint op');
      try {
        for (const [text, params] of SQL[o.t](o as never)) await db.query(text, params);
        await db.query('release savepoint op');
      } catch {
        await db.query('rollback to savepoint op');
      }
    }
    await db.query('commit');
  }
}

/** Everything the origin captured since the last call, as the forwarder would publish it. */
async function captured(db: Client): Promise<Change[]> {
  await db.query('select ferry.tick(true)');
  const b = (await nextBatch(db))!;
  const out: Change[] = [];
  const first = b.prev.firstPos! + b.prev.cnt!;
  const c = db as unknown as import('pg').PoolClient;
  for await (const part of readBatch(c, b.prev, b.cur, first, 1000)) out.push(...part);
  await db.query('update ferry.ticks set first_pos = $2, cnt = $3 where tick = $1', [b.cur.tick, first, out.length]);
  await markPublished(db, b.cur.tick);
  return out;
}

/** The applier's group writer for dc-a's changes at a destination. */
const writer = (db: Client, self: string) =>
  new GroupWriter(db, { catalog: new TableCatalog(db, 'dc-a'), origin: 'dc-a', self, policy: { kind: 'lww' }, maxClockSkewMs: 60_000, onClockSkew: 'alert', keepVersions: true, log: quietLog });

/** Source transactions, in order. */
function transactions(changes: Change[]): Change[][] {
  const out: Change[][] = [];
  let cur: Change[] = [];
  for (const c of changes) {
    cur.push(c);
    if (c.txEnd) {
      out.push(cur);
      cur = [];
    }
  }
  return out;
}

async function inTx(db: Client, fn: () => Promise<void>): Promise<boolean> {
  await db.query('begin');
  // as the applier marks its writes: the destination's own capture leaves them alone
  await db.query(`select set_config('ferry.origin', 'dc-a', true)`);
  try {
    await fn();
    await db.query('commit');
    return true;
  } catch {
    await db.query('rollback');
    return false;
  }
}

const dump = async (db: Client) =>
  (await db.query(`select (select coalesce(string_agg(t::text, ' ' order by id), '') from parent t) as p, (select coalesce(string_agg(t::text, ' ' order by id), '') from child t) as c,
                          (select coalesce(string_agg(t::text, ' ' order by id), '') from users t) as u`)).rows[0];

describe('bulk and change-by-change apply', () => {
  const urls: string[] = [];
  const dbs: Client[] = [];
  let origin: Client, bulk: Client, serial: Client;
  beforeAll(async () => {
    for (const dc of ['a', 'b', 'c'] as const) {
      const url = await freshDatabase(dc);
      urls.push(url);
      const c = new Client({ connectionString: url, pipeline: true });
      await c.connect();
      dbs.push(c);
    }
    [origin, bulk, serial] = dbs;
    await migrate(origin, { origin: 'dc-a' });
    await origin.query(TABLES);
    for (const t of ['parent', 'child', 'users']) await origin.query('select ferry.track($1::regclass)', [t]);
    await migrate(bulk, { origin: 'dc-b' });
    await migrate(serial, { origin: 'dc-c' });
    await bulk.query(TABLES);
    await serial.query(TABLES);
    // a DC applies only the tables it tracks
    for (const db of [bulk, serial]) for (const t of ['parent', 'child', 'users']) await db.query('select ferry.track($1::regclass)', [t]);
  });
  afterAll(async () => {
    for (const c of dbs) await c.end();
    for (const u of urls) await dropDatabase(u);
  });

  it('in bulk, parents are written before their children and deleted after them', async () => {
    const ddl = `create table owner (id int primary key, v text); create table pet (id int primary key, owner_id int not null references owner (id), v text);`;
    await origin.query(ddl);
    for (const t of ['pet', 'owner']) await origin.query('select ferry.track($1::regclass)', [t]);
    await bulk.query(ddl);
    for (const t of ['pet', 'owner']) await bulk.query('select ferry.track($1::regclass)', [t]);
    await captured(origin);
    await origin.query(`insert into owner values (1, 'a'), (2, 'b'); insert into pet values (10, 1, 'x'), (20, 2, 'y')`);
    await origin.query(`update pet set owner_id = 2 where id = 10; delete from owner where id = 1; insert into owner values (3, 'c'); insert into pet values (30, 3, 'z')`);
    await origin.query(`delete from pet where id = 20`);
    const group = await captured(origin);
    // one group: pet 10 moves to owner 2 before owner 1 goes, owner 3 and its pet are new
    await expect(inTx(bulk, () => writer(bulk, 'dc-b').write(group))).resolves.toBe(true);
    const rows = async (db: Client) => (await db.query(`select (select string_agg(t::text, ' ' order by id) from owner t) o, (select string_agg(t::text, ' ' order by id) from pet t) p`)).rows[0];
    expect(await rows(bulk)).toEqual(await rows(origin));
    // and a group that deletes a pet and its owner deletes the pet first
    await origin.query(`delete from pet where id = 30; delete from owner where id = 3`);
    const more = await captured(origin);
    await expect(inTx(bulk, () => writer(bulk, 'dc-b').write(more))).resolves.toBe(true);
    expect(await rows(bulk)).toEqual(await rows(origin));
  });

  it('leave identical tables, equal to the origin, for random histories', async () => {
    let groups = 0;
    let bulkGroups = 0;
    await fc.assert(
      fc.asyncProperty(history, cuts, async (txs, cut) => {
        for (const db of dbs) await db.query('truncate child, parent, users, ferry.row_versions');
        await captured(origin); // the truncates above, at the origin: not part of this history
        await run(origin, txs);
        const source = transactions(await captured(origin));
        // change by change, one destination transaction per source transaction
        const sw = writer(serial, 'dc-c');
        for (const tx of source) {
          const ok = await inTx(serial, async () => {
            for (const c of tx) await sw.write([c]);
          });
          if (!ok) throw new Error(`change by change failed on transaction ending at ${tx[tx.length - 1].pos}`);
        }
        // grouped as the applier groups them; a group that cannot go in bulk goes one source
        // transaction at a time, in origin order, as the applier's isolation does
        const bw = writer(bulk, 'dc-b');
        for (let i = 0, k = 0; i < source.length; k++) {
          const group = source.slice(i, i + cut[k % cut.length]);
          i += group.length;
          groups++;
          if (await inTx(bulk, () => bw.write(group.flat()))) {
            bulkGroups++;
            continue;
          }
          for (const tx of group) {
            const ok = await inTx(bulk, async () => {
              for (const c of tx) await bw.write([c]);
            });
            if (!ok) throw new Error('isolated apply failed');
          }
        }
        const want = await dump(origin);
        expect(await dump(serial)).toEqual(want);
        expect(await dump(bulk)).toEqual(want);
      }),
      { numRuns: 25 },
    );
    // the bulk path did the work, not the fallback
    expect(bulkGroups / groups).toBeGreaterThan(0.5);
  });
});
