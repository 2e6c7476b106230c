// Crash, shutdown and failover of the forwarder, as separate processes killed with SIGKILL or SIGTERM.
import { ChildProcess } from 'node:child_process';
import { dropDatabase, freshDatabase, sql } from '../support/db';
import { byPos, expectDense, prepareOrigin, readBack, spawnForwarder, testConfig, TransportKind, waitFor } from '../support/origin';

const DDL = `create table public.items (id int primary key, v text);`;

function exited(p: ChildProcess): Promise<number | string | null> {
  return new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(p.exitCode ?? p.signalCode) : p.once('exit', (code, sig) => r(code ?? sig))));
}

async function leaderPid(url: string): Promise<number | undefined> {
  const r = await sql<{ app: string }>(
    url,
    `select a.application_name as app from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.classid = 1179800153 and l.objid = 2 and l.granted
        and l.database = (select oid from pg_database where datname = current_database())`,
  );
  return r.length ? Number(r[0].app.split(':')[1]) : undefined;
}

describe.each<TransportKind>(['kafka', 'sqs'])('forwarder failure handling over %s', (kind) => {
  let url: string;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    url = await freshDatabase('a');
    await prepareOrigin(url, DDL, ['public.items']);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await dropDatabase(url);
  });

  /** Two forwarder processes on one origin; resolves when one of them leads. */
  async function twoForwarders(cfg: ReturnType<typeof testConfig>): Promise<{ leader: ChildProcess; standby: ChildProcess }> {
    const a = spawnForwarder(cfg);
    const b = spawnForwarder(cfg);
    children.push(a, b);
    const first = await waitFor(() => leaderPid(url), 20000, 'a leader');
    expect([a.pid, b.pid]).toContain(first);
    return first === a.pid ? { leader: a, standby: b } : { leader: b, standby: a };
  }

  it('kill -9 between publish and mark: the restarted forwarder re-publishes the same changes under the same positions', async () => {
    const cfg = testConfig(url, kind);
    await sql(url, `insert into items select g, 'row ' || g from generate_series(1, 50) g`);
    const crashing = spawnForwarder(cfg, { FERRY_FAILPOINT: 'after-publish' });
    children.push(crashing);
    expect(await exited(crashing)).toBe('SIGKILL');
    // it published, but did not mark the tick
    const ticks = await sql<{ n: string }>(url, 'select count(*) as n from ferry.ticks where tick > 0 and published_at is null and first_pos is not null');
    expect(Number(ticks[0].n)).toBe(1);

    await sql(url, `insert into items select g, 'row ' || g from generate_series(51, 60) g`);
    const again = spawnForwarder(cfg);
    children.push(again);
    const got = await readBack(cfg, (r) => byPos(r.changes).size >= 60);
    // byPos throws if one position arrived twice with different contents
    const m = byPos(got.changes);
    expect(expectDense(m)).toHaveLength(60);
    expect([...m.values()].map((c) => c.key?.id)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    if (kind === 'kafka') {
      // the first 50 were on the topic twice (the crash came before the mark): same positions both times
      expect(got.changes.length).toBe(110);
    }
    again.kill('SIGTERM');
    expect(await exited(again)).toBe(0);
  });

  it('two forwarders on one origin: one publishes; kill it and the other continues the dense positions', async () => {
    const cfg = testConfig(url, kind);
    const { leader, standby } = await twoForwarders(cfg);
    await sql(url, `insert into items select g, 'before' from generate_series(1, 20) g`);
    const before = await readBack(cfg, (r) => byPos(r.changes).size >= 20);
    const epochs = new Set(before.frames.map((f) => f.epoch));
    expect(epochs.size).toBe(1); // only one of the two ever published

    leader.kill('SIGKILL');
    await exited(leader);
    const second = await waitFor(async () => ((await leaderPid(url)) === standby.pid ? true : undefined), 20000, 'the standby to take over');
    expect(second).toBe(true);
    await sql(url, `insert into items select g, 'after' from generate_series(21, 40) g`);
    const after = await readBack(cfg, (r) => byPos(r.changes).size >= 40);
    const m = byPos(after.changes);
    expect(expectDense(m)).toHaveLength(40);
    const newEpochs = new Set(after.frames.filter((f) => f.changes.some((c) => c.pos > 20)).map((f) => f.epoch));
    expect([...newEpochs].every((e) => e > [...epochs][0])).toBe(true);
    standby.kill('SIGTERM');
    expect(await exited(standby)).toBe(0);
  });

  it('SIGTERM of the leader while writes go on: it exits 0, the standby leads within seconds, positions stay dense', async () => {
    const cfg = testConfig(url, kind);
    const { leader, standby } = await twoForwarders(cfg);
    // a steady writer: transactions of 25 rows, so the leader is mid-batch when the signal comes
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        await sql(url, `insert into items select g, 'steady' from generate_series($1::int, $1::int + 24) g`, [n + 1]);
        n += 25;
      }
    })();
    await waitFor(async () => n >= 500 || undefined, 20000, 'writes to flow');
    leader.kill('SIGTERM');
    expect(await exited(leader)).toBe(0);
    // "within seconds": the standby tries the lock every second
    await waitFor(async () => ((await leaderPid(url)) === standby.pid ? true : undefined), 10000, 'the standby to take over');
    await new Promise((r) => setTimeout(r, 300));
    writing = false;
    await writer;
    const got = await readBack(cfg, (r) => byPos(r.changes).size >= n, 60000);
    const m = byPos(got.changes); // throws if a position came twice with different contents
    expect(expectDense(m)).toHaveLength(n);
    expect(new Set([...m.values()].map((c) => c.key?.id)).size).toBe(n);
    standby.kill('SIGTERM');
    expect(await exited(standby)).toBe(0);
  });
});
