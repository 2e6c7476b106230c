// The clock-skew alarm of the applier (DESIGN.md §6) on a real database: a change stamped further
// ahead of this DC's wall clock than conflicts.maxClockSkewMs is applied and its version moves this
// DC's clock past it (onClockSkew: alert), or nothing of it stays and the clock does not jump
// (onClockSkew: stop). The wall clock is read in the same statement that moves the clock floor.
import { Client } from 'pg';
import { GroupWriter } from '../../src/apply/group-writer';
import { TableCatalog } from '../../src/apply/table-info';
import { migrate } from '../../src/capture/migrate';
import { StreamError } from '../../src/common/errors';
import type { Change } from '../../src/protocol/envelope';
import { dropDatabase, freshDatabase } from '../support/db';
import { quietLog } from '../support/origin';

describe('clock skew at the applier', () => {
  let url: string;
  let db: Client;
  beforeEach(async () => {
    url = await freshDatabase('a');
    db = new Client({ connectionString: url, pipeline: true });
    await db.connect();
    await migrate(db, { origin: 'dc-a' });
    await db.query(`create table public.items (id int primary key, v text); select ferry.track('public.items')`);
  });
  afterEach(async () => {
    await db?.end();
    await dropDatabase(url);
  });

  const wall = async () => Number((await db.query<{ ms: string }>('select ferry.wall_ms() as ms')).rows[0].ms);
  const floor = async () => Number((await db.query<{ v: string }>(`select pg_sequence_last_value('ferry.clock') as v`)).rows[0].v);
  const insert = (ms: number): Change => ({ pos: 1, id: 1, xid: '1', txEnd: true, table: 'public.items', op: 'I', key: '{"id": 1}', row: '{"id": 1, "v": "ahead"}', old: null, at: new Date().toISOString(), ms });
  const apply = async (onClockSkew: 'alert' | 'stop', c: Change) => {
    const w = new GroupWriter(db, { catalog: new TableCatalog(db, 'dc-b'), origin: 'dc-b', self: 'dc-a', policy: { kind: 'lww' }, maxClockSkewMs: 60_000, onClockSkew, keepVersions: true, log: quietLog });
    await db.query(`begin; select set_config('ferry.origin', 'dc-b', true)`);
    try {
      await w.write([c]);
      await db.query('commit');
      return w.aheadMs;
    } catch (e) {
      await db.query('rollback');
      throw e;
    }
  };

  it('stop: a change 10 min ahead stops the stream, nothing of it is kept and the clock does not jump', async () => {
    const ahead = (await wall()) + 600_000;
    const err = await apply('stop', insert(ahead)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamError);
    expect((err as Error).message).toMatch(/clock skew: a change of dc-b is stamped \d+ s ahead of this DC's clock \(more than conflicts.maxClockSkewMs = 60000\).*ferry resume --origin dc-b/);
    expect((await db.query('select * from items')).rows).toEqual([]);
    expect(await floor()).toBeLessThan(ahead);
  });

  it('alert: the same change is applied, the skew is told, and the clock moves past its version', async () => {
    const ahead = (await wall()) + 600_000;
    expect(await apply('alert', insert(ahead))).toBeGreaterThan(590_000);
    expect((await db.query('select v from items')).rows).toEqual([{ v: 'ahead' }]);
    expect(await floor()).toBe(ahead + 1);
  });

  it('stop: a change within the bound is applied and moves the clock', async () => {
    const soon = (await wall()) + 5_000;
    expect(await apply('stop', insert(soon))).toBeGreaterThan(0);
    expect(await floor()).toBe(soon + 1);
  });
});
