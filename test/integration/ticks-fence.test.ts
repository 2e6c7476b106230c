// Marking a batch published is one fenced statement: a forwarder whose epoch was superseded marks
// nothing and learns the newer epoch.
import { Pool } from 'pg';
import { markPublishedIfLeading } from '../../src/tables/ticks';
import { dropDatabase, freshDatabase, sql } from '../support/db';
import { prepareOrigin } from '../support/origin';

describe('markPublishedIfLeading', () => {
  let url: string;
  let pool: Pool;
  beforeEach(async () => {
    url = await freshDatabase('a');
    await prepareOrigin(url, `create table public.items (id int primary key, v text)`, ['public.items']);
    pool = new Pool({ connectionString: url, max: 2 });
  });
  afterEach(async () => {
    await pool.end();
    await dropDatabase(url);
  });

  const publishedAt = async (tick: number) => (await sql<{ p: Date | null }>(url, 'select published_at as p from ferry.ticks where tick = $1', [tick]))[0].p;

  it('marks the tick while the epoch leads, and nothing once a newer epoch took over', async () => {
    const [{ e }] = await sql<{ e: string }>(url, 'update ferry.state set forwarder_epoch = forwarder_epoch + 1 returning forwarder_epoch as e');
    const epoch = Number(e);
    await sql(url, `insert into items values (1, 'x')`);
    const [{ tick: first }] = await sql<{ tick: string }>(url, 'select tick from ferry.tick(true)');
    expect(await markPublishedIfLeading(pool, Number(first), epoch)).toBe(epoch);
    expect(await publishedAt(Number(first))).not.toBeNull();

    await sql(url, 'update ferry.state set forwarder_epoch = forwarder_epoch + 1');
    await sql(url, `insert into items values (2, 'y')`);
    const [{ tick: second }] = await sql<{ tick: string }>(url, 'select tick from ferry.tick(true)');
    expect(await markPublishedIfLeading(pool, Number(second), epoch)).toBe(epoch + 1);
    expect(await publishedAt(Number(second))).toBeNull();
  });
});
