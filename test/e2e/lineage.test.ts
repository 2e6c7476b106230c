// Failover at an origin (docs/operations.md, "Restore, failover and lineage"): a physical standby of
// dc-a that missed dc-a's last changes is promoted. The forwarder refuses it until `ferry lineage
// accept`, dc-b stops dc-a's stream on the new lineage (dc-c's keeps flowing) until `ferry lineage
// accept --origin dc-a`, and then the promoted database's new changes arrive, although their
// positions are the ones the lost changes had.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { sql } from '../support/db';
import { createMesh, Mesh, tableRows } from '../support/mesh';
import { waitFor } from '../support/origin';
import { ROOT } from '../support/services';
import { makeStandby, Standby } from '../support/standby';

const DDL = `create table public.items (id int primary key, v text);`;
const TABLES = ['public.items'];

type AppliedRow = { pos: string; status: string; error: string | null; error_kind: string | null; lineage: string | null };
const applied = async (url: string, origin: string) =>
  (await sql<AppliedRow>(url, 'select pos, status, error, error_kind, lineage from ferry.applied where origin = $1', [origin]))[0];
const appliedUpTo = (url: string, origin: string, pos: number) =>
  waitFor(async () => {
    const r = await applied(url, origin);
    return r && Number(r.pos) >= pos && r.status === 'running' ? r : undefined;
  }, 30000, `${origin} applied up to ${pos}`);

async function insertItems(url: string, ids: number[], v: string): Promise<void> {
  for (const id of ids) await sql(url, 'insert into items values ($1, $2)', [id, `${v}${id}`]);
}

/** `ferry ARGS…` with this config file, killed after timeoutMs (a forwarder that does not stop by itself). */
function ferry(args: string[], configFile: string, timeoutMs = 20000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'ferry'), ...args, '--config', configFile], { env: { ...process.env, FERRY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('promotion of a standby at the origin (kafka)', () => {
  let mesh: Mesh;
  let standby: Standby | undefined;
  afterEach(async () => {
    await mesh?.close();
    standby?.remove();
  });

  it('the forwarder stops on the promoted database, `ferry lineage accept` continues it, dc-b refuses the new lineage until accepted while dc-c flows, and the new changes arrive', async () => {
    mesh = await createMesh('kafka', DDL, TABLES, ['a', 'b', 'c']);
    const [a, b, c] = [mesh.url['dc-a'], mesh.url['dc-b'], mesh.url['dc-c']];
    mesh.start('dc-a', { apply: false });
    mesh.start('dc-b', { forward: false });
    mesh.start('dc-c', { apply: false });

    await insertItems(a, [1, 2, 3, 4, 5], 'a'); // pos 1–5
    await appliedUpTo(b, 'dc-a', 5);
    const oldLineage = (await applied(b, 'dc-a'))!.lineage;
    const recorded = (await sql<{ lineage: string }>(a, 'select lineage from ferry.state'))[0].lineage;
    expect(oldLineage).toBe(recorded); // trust on first use: dc-b recorded the lineage of dc-a's first frames

    // a standby of dc-a's cluster, caught up, then cut off: it never sees what follows
    standby = await makeStandby('a');
    const dbName = new URL(a).pathname.slice(1);
    const s = standby.url(dbName);
    standby.start();
    await waitFor(async () => (await sql<{ n: string }>(s, 'select count(*) as n from items').catch(() => [{ n: '0' }]))[0].n === '5' || undefined, 30000, 'the standby to replay rows 1–5');
    const standbyPublished = await waitFor(async () => {
      const r = await sql<{ p: string }>(s, `select coalesce(max(first_pos + cnt - 1) filter (where published_at is not null), 0) as p from ferry.ticks`);
      return Number(r[0].p) >= 5 ? Number(r[0].p) : undefined;
    }, 30000, 'the standby to hold the published ticks');
    expect(standbyPublished).toBe(5);
    standby.stop();

    // the tail: dc-a writes, publishes and dc-b applies it, and then dc-a is gone
    await insertItems(a, [6, 7, 8], 'tail'); // pos 6–8
    await appliedUpTo(b, 'dc-a', 8);
    await mesh.stop('dc-a');

    // the standby is promoted without those changes; dc-a is now this database
    standby.start({ detached: true });
    standby.promote();
    mesh.cfg['dc-a'] = { ...mesh.cfg['dc-a'], database: s };
    const cfgA = mesh.configFile('dc-a');

    // 1. the forwarder refuses it (exit 1, an operator's error) and names what happened and the command
    const refused = await ferry(['forward'], cfgA);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/the database of dc-a is not the one its stream of positions was recorded in: it writes WAL timeline 2, recorded 1: a standby was promoted/);
    expect(refused.stderr).toMatch(/ferry lineage accept --config FILE/);
    expect(refused.stderr).not.toMatch(/\n\s+at /); // one line, no stack
    // nothing was stamped or published meanwhile
    expect(Number((await sql<{ p: string }>(s, 'select coalesce(max(first_pos + cnt - 1), 0) as p from ferry.ticks'))[0].p)).toBe(5);

    // new writes on the promoted database take the positions the lost tail had (6–8)
    await insertItems(s, [100, 101, 102], 'new');

    // 2. the operator accepts the database as it is: a new lineage forked at position 5
    const accepted = await ferry(['lineage', 'accept'], cfgA);
    expect(accepted.stderr).toBe('');
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toMatch(new RegExp(`dc-a goes on under lineage \\S+ \\(forked from ${recorded} at position 5\\)`));
    const newLineage = (await sql<{ lineage: string; lineage_since: string }>(s, 'select lineage, lineage_since from ferry.state'))[0];
    expect(newLineage.lineage).not.toBe(recorded);
    expect(Number(newLineage.lineage_since)).toBe(5);

    // 3. the forwarder runs; dc-b stops dc-a's stream on the new lineage, naming origin and both lineages
    mesh.start('dc-a', { apply: false });
    const stopped = await waitFor(async () => {
      const r = await applied(b, 'dc-a');
      return r?.status === 'stopped' ? r : undefined;
    }, 30000, "dc-b to stop dc-a's stream");
    expect(stopped.error_kind).toBe('lineage');
    expect(stopped.error).toContain(`frames of dc-a carry lineage ${newLineage.lineage} (forked at position 5), but this DC applies lineage ${recorded} of dc-a`);
    expect(stopped.error).toMatch(/ferry lineage accept --origin dc-a/);
    expect(await tableRows(b, 'items', 'id')).toEqual(['(1,a1)', '(2,a2)', '(3,a3)', '(4,a4)', '(5,a5)', '(6,tail6)', '(7,tail7)', '(8,tail8)']);

    // other origins keep flowing
    await insertItems(c, [1000], 'c');
    await waitFor(async () => (await tableRows(b, 'items', 'id')).includes('(1000,c1000)') || undefined, 30000, "dc-c's row at dc-b");
    expect((await applied(b, 'dc-a'))!.status).toBe('stopped');

    // `ferry status` at dc-b says so (exit 1)
    const status = await mesh.cli('dc-b', ['status']);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/apply from dc-a: .*stopped/);

    // 4. accepted at dc-b: the stream resumes at the fork and the new changes arrive under positions 6–8
    const acceptB = await mesh.cli('dc-b', ['lineage', 'accept', '--origin', 'dc-a']);
    expect(acceptB.stderr).toBe('');
    expect(acceptB.code).toBe(0);
    expect(acceptB.stdout).toMatch(new RegExp(`lineage ${newLineage.lineage} of dc-a accepted \\(it replaces ${recorded}\\); the stream resumes after position 5. Positions 6–8 applied here came from the replaced lineage and stay`));
    await appliedUpTo(b, 'dc-a', 8);
    await waitFor(async () => (await tableRows(b, 'items', 'id')).includes('(102,new102)') || undefined, 30000, 'the new rows at dc-b');
    // what the old primary published and the promoted one never had stays at dc-b (ferry verify shows it)
    expect(await tableRows(b, 'items', 'id')).toEqual(['(1,a1)', '(2,a2)', '(3,a3)', '(4,a4)', '(5,a5)', '(6,tail6)', '(7,tail7)', '(8,tail8)', '(100,new100)', '(101,new101)', '(102,new102)', '(1000,c1000)']);
    expect((await applied(b, 'dc-a'))!.lineage).toBe(newLineage.lineage);
    // and a second accept has nothing to do
    const again = await mesh.cli('dc-b', ['lineage', 'accept', '--origin', 'dc-a']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/nothing to accept for dc-a/);
  });
});
