// Marking a batch published is one fenced statement: a forwarder whose epoch was superseded marks
// nothing and learns the newer epoch.
import { markPublishedIfLeading } from '../../src/tables/ticks';
import { sql } from '../support/db';
import { itemsOriginEachTest } from '../support/origin';

describe('markPublishedIfLeading', () => {
  const fx = itemsOriginEachTest();

  const publishedAt = async (tick: number) => (await sql<{ p: Date | null }>(fx.url, 'select published_at as p from ferry.ticks where tick = $1', [tick]))[0].p;

  it('marks the tick while the epoch leads, and nothing once a newer epoch took over', async () => {
    const [{ e }] = await sql<{ e: string }>(fx.url, 'update ferry.state set forwarder_epoch = forwarder_epoch + 1 returning forwarder_epoch as e');
    const epoch = Number(e);
    await sql(fx.url, `insert into items values (1, 'x')`);
    const [{ tick: first }] = await sql<{ tick: string }>(fx.url, 'select tick from ferry.tick(true)');
    expect(await markPublishedIfLeading(fx.pool, Number(first), epoch)).toBe(epoch);
    expect(await publishedAt(Number(first))).not.toBeNull();

    await sql(fx.url, 'update ferry.state set forwarder_epoch = forwarder_epoch + 1');
    await sql(fx.url, `insert into items values (2, 'y')`);
    const [{ tick: second }] = await sql<{ tick: string }>(fx.url, 'select tick from ferry.tick(true)');
    expect(await markPublishedIfLeading(fx.pool, Number(second), epoch)).toBe(epoch + 1);
    expect(await publishedAt(Number(second))).toBeNull();
  });
});
