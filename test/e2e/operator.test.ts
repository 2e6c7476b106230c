// What an operator sees and does (DESIGN.md §7, §8): a poison change stops only its origin's
// stream with an error that says what and where; `ferry status` shows it; `ferry resume` and
// `ferry skip` (audited) act on it; the HTTP endpoints; two appliers for one (DC, origin).
import { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { APPLY_LOCK_CLASS } from '../../src/common/locks';
import type { DcStatus } from '../../src/server/status';
import { runSidecar } from '../../src/server/sidecar';
import { sql, withClient } from '../support/db';
import { createMesh, Mesh, tableRows } from '../support/mesh';
import { quietLog, TransportKind, waitFor } from '../support/origin';
import { publishedPosition } from '../../src/tables/ticks';

const DDL = `
create table public.items (id int primary key, v text);
create table public.accounts (id int primary key, owner text not null, note text);`;
const TABLES = ['public.items', 'public.accounts'];

type AppliedRow = {
  pos: string;
  status: string;
  error: string | null;
  error_pos: string | null;
  error_kind: string | null;
  epoch: string;
};

async function appliedRow(url: string, origin = 'dc-a'): Promise<AppliedRow | undefined> {
  return (await sql<AppliedRow>(url, 'select pos, status, error, error_pos, error_kind, epoch from ferry.applied where origin = $1', [origin]))[0];
}

const stoppedAt = (url: string) =>
  waitFor(async () => {
    const r = await appliedRow(url);
    return r?.status === 'stopped' ? r : undefined;
  }, 30000, 'the stream of dc-a to stop');

const appliedUpTo = (url: string, pos: number) =>
  waitFor(async () => {
    const r = await appliedRow(url);
    return r && Number(r.pos) === pos && r.status === 'running' ? r : undefined;
  }, 30000, `dc-a applied up to ${pos}`);

/** Waits until the origin has published everything it captured, up to `pos`. */
const publishedUpTo = (url: string, pos: number) =>
  waitFor(async () => {
    return (await withClient(url, publishedPosition)) === pos || undefined;
  }, 30000, `published up to ${pos}`);

/** One source transaction per row: positions follow ids. */
async function insertItems(url: string, from: number, to: number, v = (id: number) => `v${id}`): Promise<void> {
  for (let id = from; id <= to; id++) await sql(url, 'insert into items values ($1, $2)', [id, v(id)]);
}

describe.each<TransportKind>(['kafka', 'sqs'])('a stopped stream over %s', (kind) => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('schema mismatch: stops at the change with a precise error, `ferry status` shows it, once fixed everything arrives (by itself, or at once with `ferry resume`)', async () => {
    mesh = await createMesh(kind, DDL, TABLES, ['a', 'b']);
    const [a, b] = [mesh.url['dc-a'], mesh.url['dc-b']];
    await sql(a, 'alter table accounts add column tier text'); // dc-a migrated, dc-b not yet
    mesh.start('dc-a', { apply: false });
    await insertItems(a, 1, 5); // pos 1–5
    await sql(a, `insert into accounts values (1, 'ann', 'vip', 'gold')`); // pos 6: dc-b cannot take it
    await insertItems(a, 6, 10); // pos 7–11
    // all of it reaches dc-b together, so the applier gets to group it
    await publishedUpTo(a, 11);
    mesh.start('dc-b', { forward: false });

    const st = await stoppedAt(b);
    expect(st.error).toMatch(/schema mismatch: column\(s\) tier of public\.accounts are not at this DC: add them here/);
    expect(st.error_kind).toBe('schema');
    expect(st.error).toMatch(/\(origin dc-a, pos 6\)/);
    expect(Number(st.error_pos)).toBe(6);
    // everything before the poison change is applied, nothing after, and it stays so
    await new Promise((r) => setTimeout(r, 1500));
    expect(Number((await appliedRow(b))!.pos)).toBe(5);
    expect(await tableRows(b, 'items', 'id')).toEqual(['(1,v1)', '(2,v2)', '(3,v3)', '(4,v4)', '(5,v5)']);
    expect(await tableRows(b, 'accounts', 'id')).toEqual([]);

    const json = await mesh.cli('dc-b', ['status', '--json']);
    expect(json.code).toBe(1);
    const s = JSON.parse(json.stdout) as DcStatus;
    expect(s.healthy).toBe(false);
    expect(s.peers).toEqual([
      expect.objectContaining({ origin: 'dc-a', status: 'stopped', appliedPos: 5, errorPos: 6, error: expect.stringMatching(/tier of public\.accounts/) }),
    ]);
    expect(s.vector['dc-a']).toBe(5);

    const text = await mesh.cli('dc-b', ['status']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/NEEDS ATTENTION/);
    expect(text.stdout).toMatch(/apply from dc-a: applied 5 .*stopped/);
    expect(text.stdout).toMatch(/error at pos 6: schema mismatch: column\(s\) tier of public\.accounts/);

    // the operator migrates dc-b; the stream tries again by itself, `ferry resume` makes it try at once
    await sql(b, 'alter table accounts add column tier text');
    const resumed = await mesh.cli('dc-b', ['resume', '--origin', 'dc-a']);
    expect(resumed).toMatchObject({ code: 0, stdout: expect.stringMatching(/stream from dc-a (resumes|was not stopped)/) });
    await appliedUpTo(b, 11);
    expect(await tableRows(b, 'items', 'id')).toEqual(await tableRows(a, 'items', 'id'));
    expect(await tableRows(b, 'accounts', 'id')).toEqual(['(1,ann,vip,gold)']);
    const after = await mesh.cli('dc-b', ['status', '--json']);
    expect(after.code).toBe(0);
    const s2 = JSON.parse(after.stdout) as DcStatus;
    expect(s2.healthy).toBe(true);
    expect(s2.peers[0]).toMatchObject({ origin: 'dc-a', status: 'running', appliedPos: 11, error: null, errorPos: null });
    expect(s2.vector).toEqual({ 'dc-b': 0, 'dc-a': 11 });
  });
});

describe('ferry skip over kafka', () => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('a change that can never apply: stops at exactly that change; skipped, the rest arrives and the skip is audited', async () => {
    mesh = await createMesh('kafka', DDL, TABLES, ['a', 'b']);
    const [a, b] = [mesh.url['dc-a'], mesh.url['dc-b']];
    await sql(b, `alter table items add constraint v_not_bad check (v <> 'bad')`);
    mesh.start('dc-a', { apply: false });
    await insertItems(a, 1, 3); // pos 1–3
    // one source transaction of three changes, pos 4–6; the middle one (id 5) breaks dc-b's rule
    await sql(a, `insert into items select g, case when g = 5 then 'bad' else 'v' || g end from generate_series(4, 6) g`);
    await insertItems(a, 7, 8); // pos 7–8
    await publishedUpTo(a, 8);
    mesh.start('dc-b', { forward: false });

    const st = await stoppedAt(b);
    expect(st.error).toMatch(/violates check constraint "v_not_bad"/);
    expect(st.error).toMatch(/items/);
    expect(st.error).toMatch(/origin dc-a, pos 5\)/);
    expect(Number(st.error_pos)).toBe(5);
    // the source transaction of the poison change is atomic: none of it, nothing after it
    expect(Number(st.pos)).toBe(3);
    expect(await tableRows(b, 'items', 'id')).toEqual(['(1,v1)', '(2,v2)', '(3,v3)']);

    const already = await mesh.cli('dc-b', ['skip', '--origin', 'dc-a', '--pos', '3', '--reason', 'wrong one']);
    expect(already.code).toBe(1);
    expect(already.stderr).toMatch(/position 3 of dc-a is already applied/);

    const skipped = await mesh.cli('dc-b', ['skip', '--origin', 'dc-a', '--pos', String(st.error_pos), '--reason', 'value rejected by dc-b; fixed by hand']);
    expect(skipped.code).toBe(0);
    await appliedUpTo(b, 8);
    const want = (await tableRows(a, 'items', 'id')).filter((r) => r !== '(5,bad)');
    expect(want).toHaveLength(7);
    expect(await tableRows(b, 'items', 'id')).toEqual(want);

    const audit = await sql<{ origin: string; pos: string; reason: string; skipped_by: string; applied: boolean; change: { pos: number; table: string; op: string; key: unknown; row: { v: string } } }>(
      b,
      'select origin, pos, reason, skipped_by, applied_at is not null as applied, change from ferry.skips',
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ origin: 'dc-a', pos: '5', reason: 'value rejected by dc-b; fixed by hand', skipped_by: new URL(b).username, applied: true });
    expect(audit[0].change).toMatchObject({ pos: 5, table: 'public.items', op: 'I', key: { id: 5 }, row: { id: 5, v: 'bad' } });
    expect((await mesh.cli('dc-b', ['status'])).code).toBe(0);
  });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** A counter's value in Prometheus text, 0 when absent. */
function metric(text: string, name: string, origin: string): number {
  const m = new RegExp(`^${name}\\{origin="${origin}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('HTTP endpoints of a sidecar', () => {
  let mesh: Mesh;
  let ac: AbortController | undefined;
  let done: Promise<void> | undefined;
  afterEach(async () => {
    ac?.abort();
    await done?.catch(() => undefined);
    await mesh?.close();
  });

  it('/healthz, /metrics, /status, and /readyz that turns 503 while a stream is stopped', async () => {
    mesh = await createMesh('kafka', DDL, TABLES, ['a', 'b']);
    const [a, b] = [mesh.url['dc-a'], mesh.url['dc-b']];
    const port = await freePort();
    mesh.cfg['dc-b'] = { ...mesh.cfg['dc-b'], http: { port, host: '127.0.0.1' } };
    const get = async (p: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${p}`);
      return { code: r.status, body: await r.text() };
    };
    ac = new AbortController();
    done = runSidecar(mesh.cfg['dc-b'], quietLog.child({ dc: 'dc-b' }), ac.signal, { forward: true, apply: true, http: true });
    mesh.start('dc-a');
    await waitFor(() => get('/healthz').then((r) => r.code === 200, () => false), 10000, '/healthz');
    expect((await get('/nope')).code).toBe(404);
    // the registry is per process: count from here
    const before = (await get('/metrics')).body;

    await insertItems(a, 1, 7);
    for (let id = 1; id <= 4; id++) await sql(b, 'insert into accounts values ($1, $2)', [id, `b${id}`]);
    await mesh.drained(30000);
    const m = await waitFor(async () => {
      const t = (await get('/metrics')).body;
      return metric(t, 'ferry_apply_changes_total', 'dc-a') - metric(before, 'ferry_apply_changes_total', 'dc-a') === 7 ? t : undefined;
    }, 10000, 'the apply counter');
    expect(metric(m, 'ferry_forward_changes_total', 'dc-b') - metric(before, 'ferry_forward_changes_total', 'dc-b')).toBe(4);
    expect(metric(m, 'ferry_apply_leader', 'dc-a')).toBe(1);

    const status = await get('/status');
    expect(status.code).toBe(200);
    const s = JSON.parse(status.body) as DcStatus;
    expect(s).toMatchObject({ dc: 'dc-b', healthy: true, vector: { 'dc-b': 4, 'dc-a': 7 } });
    expect(await get('/readyz')).toEqual({ code: 200, body: JSON.stringify({ ok: true, stopped: [] }) });

    // a poison change from dc-a: only readiness changes, the process stays healthy
    await sql(b, `alter table items add constraint v_not_bad check (v <> 'bad')`);
    await insertItems(a, 8, 8, () => 'bad'); // pos 8
    await insertItems(a, 9, 9); // pos 9
    await waitFor(() => get('/readyz').then((r) => r.code === 503), 30000, '/readyz 503');
    expect(JSON.parse((await get('/readyz')).body)).toEqual({ ok: false, stopped: ['dc-a'] });
    expect((await get('/healthz')).code).toBe(200);
    const s2 = JSON.parse((await get('/status')).body) as DcStatus;
    expect(s2.healthy).toBe(false);
    expect(s2.peers[0]).toMatchObject({ origin: 'dc-a', status: 'stopped', appliedPos: 7, errorPos: 8 });
    expect((await get('/metrics')).body).toMatch(/^ferry_apply_errors_total\{origin="dc-a",kind="stopped"\} [1-9]/m);

    expect((await mesh.cli('dc-b', ['skip', '--origin', 'dc-a', '--pos', '8', '--reason', 'test'])).code).toBe(0);
    await waitFor(() => get('/status').then((r) => (JSON.parse(r.body) as DcStatus).vector['dc-a'] === 9), 30000, 'dc-a applied up to 9');
    expect(await get('/readyz')).toEqual({ code: 200, body: JSON.stringify({ ok: true, stopped: [] }) });
    expect(await tableRows(b, 'items', 'id')).toEqual((await tableRows(a, 'items', 'id')).filter((r) => r !== '(8,bad)'));
  });
});

describe('two appliers for one (DC, origin)', () => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  const lockHolders = async (url: string) =>
    (
      await sql<{ app: string }>(
        url,
        `select a.application_name as app from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where l.locktype = 'advisory' and l.granted and l.classid = $1 and l.database = (select oid from pg_database where datname = current_database())`,
        [APPLY_LOCK_CLASS],
      )
    ).map((r) => r.app);

  it('one leads, the other stands by; kill -9 of the leader: the other takes over, nothing lost or applied twice', async () => {
    mesh = await createMesh('kafka', DDL, TABLES, ['a', 'b'], { apply: { groupChanges: 500 } });
    const [a, b] = [mesh.url['dc-a'], mesh.url['dc-b']];
    await sql(
      b,
      `create table write_log (id int);
       create function log_write() returns trigger language plpgsql as $$ begin insert into write_log values (new.id); return null; end $$;
       create trigger log_write after insert or update on items for each row execute function log_write();`,
    );
    const count = async (q: string) => Number((await sql<{ n: string }>(b, q))[0].n);
    const appliers: ChildProcess[] = [mesh.spawn('dc-b', 'apply'), mesh.spawn('dc-b', 'apply')];

    // exactly one of the two holds the lock, and it stays so
    const holder = async () => {
      const h = await lockHolders(b);
      return h.length === 1 ? h[0] : undefined;
    };
    const first = await waitFor(holder, 20000, 'an applier to lead');
    const leader = appliers.find((p) => first === `ferry-applier:dc-a:${p.pid}`);
    expect(leader).toBeDefined();
    const standby = appliers.find((p) => p !== leader)!;
    await new Promise((r) => setTimeout(r, 2500)); // the standby tries every second
    expect(await lockHolders(b)).toEqual([first]);
    expect(standby.exitCode).toBeNull();
    expect(Number((await appliedRow(b))!.epoch)).toBe(1);

    // 30 source transactions of 1000 rows, forwarded once all are written: the leader is surely mid-stream when killed
    for (let i = 0; i < 30; i++) await sql(a, `insert into items select g, 'x' from generate_series($1::int, $1::int + 999) g`, [i * 1000 + 1]);
    mesh.start('dc-a', { apply: false });
    await waitFor(async () => (await count('select count(*) as n from write_log')) >= 1000 || undefined, 30000, 'apply to begin');
    leader!.kill('SIGKILL');
    await new Promise((r) => leader!.once('exit', r));
    const midway = await count('select count(*) as n from items');
    expect(midway).toBeLessThan(30000);

    const second = await waitFor(holder, 20000, 'the standby to take over');
    // (the new leader's Kafka consumer then waits for the killed one's group session to time out, ~30 s)
    expect(second).toBe(`ferry-applier:dc-a:${standby.pid}`);
    await waitFor(async () => (await count('select count(*) as n from items')) === 30000 || undefined, 60000, 'all rows at dc-b');
    const r = (await appliedRow(b))!;
    expect(r).toMatchObject({ pos: '30000', status: 'running', epoch: '2' });
    expect(await count('select count(*) as n from write_log')).toBe(30000);
    expect(await count('select count(distinct id) as n from write_log')).toBe(30000);
    expect(await tableRows(b, 'items', 'id')).toEqual(await tableRows(a, 'items', 'id'));
  });
});
