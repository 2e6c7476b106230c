// Lineage at the origin (docs/operations.md, "Restore, failover and lineage"): a database that is not
// the one its stream was recorded in (another cluster, xids gone backwards) stops the forwarder
// before it stamps anything; `ferry lineage accept` starts a new lineage there, every frame carries
// it, and no change is lost across the accept. (The promotion of a standby: test/e2e/lineage.test.ts.)
import { Client } from 'pg';
import { LineageError } from '../../src/common/errors';
import { acceptOwnLineage } from '../../src/forward/lineage';
import { dropDatabase, freshDatabase, sql, withClient } from '../support/db';
import { prepareOrigin, readKafka, startForwarder, testConfig, waitFor } from '../support/origin';
import { publishedPosition } from '../../src/tables/ticks';

const DDL = 'create table public.items (id int primary key, v text)';

describe('lineage at the origin (kafka)', () => {
  let url: string;
  beforeEach(async () => {
    url = await freshDatabase('a');
    await prepareOrigin(url, DDL, ['public.items']);
  });
  afterEach(async () => dropDatabase(url));

  it('ferry init records the cluster, its timeline and a lineage', async () => {
    const [st] = await sql<{ system_identifier: string; timeline: string; lineage: string; lineage_since: string }>(url, 'select system_identifier, timeline, lineage, lineage_since from ferry.state');
    const [now] = await sql<{ s: string }>(url, 'select system_identifier::text as s from pg_control_system()');
    expect(st.system_identifier).toBe(now.s);
    expect(Number(st.timeline)).toBeGreaterThanOrEqual(1);
    expect(st.lineage).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(st.lineage_since)).toBe(0);
  });

  it('another cluster: the forwarder stops before stamping; after `lineage accept` nothing captured before or after is lost, and frames carry the new lineage', async () => {
    const cfg = testConfig(url, 'kafka');
    await sql(url, `insert into items values (1, 'one')`);
    let fwd = startForwarder(cfg);
    await waitFor(async () => (await withClient(url, publishedPosition)) === 1 || undefined, 20000, 'pos 1 published');
    await fwd.stop();
    const [{ lineage: first }] = await sql<{ lineage: string }>(url, 'select lineage from ferry.state');

    // as a copy in a new cluster reads: another system_identifier, and xids below what the ticks saw
    await sql(url, `update ferry.state set system_identifier = '42'`);
    await sql(url, `insert into items values (2, 'two')`); // captured, not sent
    fwd = startForwarder(cfg);
    await expect(fwd.done).rejects.toThrow(LineageError);
    await expect(fwd.done).rejects.toThrow(/the database of dc-a is not the one its stream of positions was recorded in: it is another cluster than the one its stream was recorded in \(system_identifier \d+, recorded 42\).*ferry lineage accept --config FILE/);
    expect(await withClient(url, publishedPosition)).toBe(1);
    expect((await sql<{ n: string }>(url, 'select count(*) as n from ferry.ticks where first_pos > 1'))[0].n).toBe('0');

    // a tick that saw xids far ahead of this cluster's: xids went backwards (told apart from the cluster)
    await sql(url, `update ferry.state set system_identifier = (select system_identifier::text from pg_control_system())`);
    await sql(url, `update ferry.ticks set snap = '900000000:900000000:' where tick = (select max(tick) from ferry.ticks where published_at is not null)`);
    fwd = startForwarder(cfg);
    await expect(fwd.done).rejects.toThrow(/its transaction ids went backwards \(the next is \d+, its ticks saw 900000000 handed out\)/);

    const c = new Client({ connectionString: url });
    await c.connect();
    const accepted = await acceptOwnLineage(c, 'dc-a').finally(() => c.end());
    expect(accepted.parent).toBe(first);
    expect(accepted.since).toBe(1);
    expect(accepted.bridge).not.toBeNull();
    await sql(url, `insert into items values (3, 'three')`);
    fwd = startForwarder(cfg);
    try {
      const r = await readKafka(cfg, (x) => [2, 3].every((id) => x.changes.some((ch) => ch.row?.id === id)));
      const after = r.frames.filter((f) => f.lineage?.id === accepted.lineage);
      expect(after.length).toBeGreaterThan(0);
      expect(after.every((f) => f.lineage!.since === 1)).toBe(true);
      expect(r.frames.filter((f) => f.lineage?.id === first).flatMap((f) => f.changes.map((ch) => ch.pos))).toEqual([1]);
      // the new lineage's own positions follow the fork
      expect(Math.min(...after.flatMap((f) => f.changes.map((ch) => ch.pos)))).toBe(2);
    } finally {
      await fwd.stop();
    }
  });
});
