// The ticker against a real database: while the forwarder publishes a batch, the changes that
// arrive wait and go out as one batch after it (unless tickMaxChanges wait), so a slow publish
// makes batches larger instead of queueing ticks that each wait for their own publish.
import { Ticker } from '../../src/forward/ticker';
import { sql } from '../support/db';
import { itemsOriginEachTest, quietLog, testConfig } from '../support/origin';

describe('ticker', () => {
  const fx = itemsOriginEachTest();

  const ticks = async () => Number((await sql<{ n: string }>(fx.url, 'select count(*) as n from ferry.ticks'))[0].n);

  it('cuts no tick while the forwarder publishes, unless tickMaxChanges wait, and one as soon as it is done', async () => {
    const cfg = testConfig(fx.url, 'kafka', { forward: { tickIntervalMs: 20, tickMaxChanges: 500 } }).forward;
    let busy = true;
    const ticker = new Ticker(fx.pool, cfg, quietLog, () => undefined, () => busy);
    const stop = new AbortController();
    const running = ticker.run(stop.signal);
    try {
      const before = await ticks();
      // 40 small transactions over ~1 s, far more often than tickIntervalMs
      for (let i = 0; i < 40; i++) {
        await sql(fx.url, `insert into items values ($1, 'x')`, [i]);
        await new Promise((r) => setTimeout(r, 25));
        // a wake-up that finds the forwarder still publishing cuts nothing either
        if (i % 10 === 0) ticker.publishingDone();
      }
      expect(await ticks()).toBe(before);
      // tickMaxChanges waiting: a tick even while busy (batches stay bounded)
      await sql(fx.url, `insert into items select g, 'y' from generate_series(1000, 1499) g`);
      await waitForTicks(before + 1);
      const bounded = await ticks();
      expect(bounded).toBe(before + 1);
      await sql(fx.url, `insert into items values (5000, 'z')`);
      busy = false;
      ticker.publishingDone();
      await waitForTicks(bounded + 1);
    } finally {
      stop.abort();
      ticker.stop();
      await running;
    }
  });

  async function waitForTicks(n: number): Promise<void> {
    const end = Date.now() + 10_000;
    while ((await ticks()) < n) {
      if (Date.now() > end) throw new Error(`fewer than ${n} ticks after 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
});
