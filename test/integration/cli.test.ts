// The command-line contract of the capture side (DESIGN.md §8), run as a user would: the built
// `ferry` binary, a config file, a non-superuser role that owns the tables.
import { execFile } from 'node:child_process';
import { Client } from 'pg';
import path from 'node:path';
import { promisify } from 'node:util';
import { dropDatabase, freshDatabase, sql, uniq } from '../support/db';
import { ROOT, services } from '../support/services';
import { byPos, prepareOrigin, readBack, startForwarder, testConfig } from '../support/origin';
import { migrate, migrations } from '../../src/capture/migrate';
import { testFile } from '../support/files';

const run = promisify(execFile);

async function ferry(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [path.join(ROOT, 'bin', 'ferry'), ...args], { env: { ...process.env, FERRY_LOG_LEVEL: 'warn', ...env } });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

/** A config file for dc-a's database `url`, as a user would write it. */
function configFile(url: string, extra = ''): string {
  return testFile('cli', 'yaml', `origin: dc-a\ndatabase: ${url}\ntransport: { kind: kafka, brokers: [${services().FERRY_KAFKA_BROKERS}] }\npeers: [dc-b]\n${extra}`);
}

describe('ferry init / track / untrack', () => {
  let url: string;
  let cfgFile: string;
  beforeAll(async () => {
    url = await freshDatabase('a');
    cfgFile = configFile(url);
  });
  afterAll(() => dropDatabase(url));

  it('--print shows the SQL and runs nothing', async () => {
    const r = await ferry(['init', '--print']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/create table ferry\.ticks/);
    expect(r.out).toMatch(/pg_advisory_xact_lock/);
    expect(await sql(url, `select 1 from pg_namespace where nspname = 'ferry'`)).toEqual([]);
  });

  it('installs as a plain role (no superuser), twice at once and again: idempotent under its lock', async () => {
    expect((await sql<{ s: boolean }>(url, 'select rolsuper as s from pg_roles where rolname = current_user'))[0].s).toBe(false);
    const [a, b] = await Promise.all([ferry(['init', '--config', cfgFile]), ferry(['init', '--config', cfgFile])]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect([a.out, b.out].filter((o) => /applied 0001_capture/.test(o))).toHaveLength(1);
    const again = await ferry(['init', '--config', cfgFile]);
    expect(again.out).toMatch(/up to date/);
    expect((await sql(url, 'select id from ferry.migrations order by id')).map((r) => r.id)).toEqual(migrations().map((m) => m.id));
  });

  it('track refuses a table without a primary key and names the options; --key makes it trackable', async () => {
    await sql(url, `create table public.nokey (a int not null, b text); create unique index on public.nokey (a)`);
    const r = await ferry(['track', '--config', cfgFile, 'public.nokey']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no primary key/);
    expect(r.err).toMatch(/--key/);
    const ok = await ferry(['track', '--config', cfgFile, '--key', 'a', 'public.nokey']);
    expect(ok.code).toBe(0);
    const bad = await ferry(['track', '--config', cfgFile, '--key', 'zz', 'public.nokey']);
    expect(bad.err).toMatch(/no column\(s\) zz/);
    expect((await ferry(['track', '--config', cfgFile, 'public.missing'])).err).toMatch(/does not exist/);
  });

  it('tracks awkward names, and untrack stops the capture', async () => {
    await sql(url, `create schema "My Schema"; create table "My Schema"."select" ("Id" int primary key, "a b" text)`);
    const r = await ferry(['track', '--config', cfgFile, '"My Schema"."select"']);
    expect(r.out).toMatch(/tracking "My Schema"\."select"/);
    await sql(url, `insert into "My Schema"."select" values (1, 'x')`);
    expect((await sql(url, `select count(*)::int as n from ferry.changes`))[0].n).toBe(1);
    expect((await ferry(['untrack', '--config', cfgFile, '"My Schema"."select"'])).code).toBe(0);
    await sql(url, `insert into "My Schema"."select" values (2, 'y')`);
    expect((await sql(url, `select count(*)::int as n from ferry.changes`))[0].n).toBe(1);
  });

  it('a config error names the key and its environment variable, exit 2', async () => {
    const r = await ferry(['init', '--config', cfgFile], { FERRY_ORIGIN: 'Bad Origin!' });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/origin: .*FERRY_ORIGIN/);
  });
});

describe('idle forwarder', () => {
  let url: string;
  beforeEach(async () => {
    url = await freshDatabase('a');
  });
  afterEach(() => dropDatabase(url));

  it('when idle it cuts no empty ticks, looks every idleCheckMs, and a write made then is published', async () => {
    await prepareOrigin(url, 'create table public.t (id int primary key)', ['public.t']);
    const cfg = testConfig(url, 'kafka', { forward: { idleAfterMs: 300, idleCheckMs: 200 } });
    const fwd = startForwarder(cfg);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const ticks = async () => (await sql<{ n: number }>(url, 'select count(*)::int as n from ferry.ticks'))[0].n;
      const before = await ticks();
      await new Promise((r) => setTimeout(r, 1500));
      expect(await ticks()).toBe(before);
      await sql(url, 'insert into t values (1)');
      const got = await readBack(cfg, (r) => byPos(r.changes).size >= 1, 20_000);
      expect(got.changes[0].key).toEqual({ id: 1 });
    } finally {
      await fwd.stop();
    }
  });

  it('captures a writer that uses two-phase commit (PREPARE TRANSACTION), once it commits', async () => {
    await prepareOrigin(url, 'create table public.t (id int primary key, v text)', ['public.t']);
    const cfg = testConfig(url, 'kafka', { forward: { idleAfterMs: 300, idleCheckMs: 200 } });
    const fwd = startForwarder(cfg);
    const gid = uniq('gid');
    try {
      await new Promise((r) => setTimeout(r, 1000)); // idle
      // a transaction that ran NOTIFY could not be prepared: capture must not make one
      await sql(url, `begin; insert into t values (1, 'prepared'); update t set v = v || '!' where id = 1; prepare transaction '${gid}'`);
      await sql(url, `insert into t values (2, 'after')`);
      await new Promise((r) => setTimeout(r, 1000));
      // not committed yet: nothing of it is published, and the later write is not held back by it
      let got = await readBack(cfg, (r) => byPos(r.changes).size >= 1, 20_000);
      expect([...byPos(got.changes).values()].map((c) => c.row)).toEqual([{ id: 2, v: 'after' }]);
      await sql(url, `commit prepared '${gid}'`);
      got = await readBack(cfg, (r) => byPos(r.changes).size >= 3, 20_000);
      expect([...byPos(got.changes).values()].map((c) => [c.op, c.row])).toEqual([
        ['I', { id: 2, v: 'after' }],
        ['I', { id: 1, v: 'prepared' }],
        ['U', { id: 1, v: 'prepared!' }],
      ]);
    } finally {
      await sql(url, `rollback prepared '${gid}'`).catch(() => undefined);
      await fwd.stop();
    }
  });
});

describe('schema version', () => {
  let url: string;
  let cfgFile: string;
  beforeEach(async () => {
    url = await freshDatabase('a');
    cfgFile = configFile(url, 'http: { port: 0 }\n');
  });
  afterEach(() => dropDatabase(url));

  it('run, apply and forward refuse a database without schema ferry, and say to run ferry init', async () => {
    for (const cmd of ['run', 'apply', 'forward']) {
      const r = await ferry([cmd, '--config', cfgFile]);
      expect([cmd, r.code]).toEqual([cmd, 1]);
      expect(r.err).toMatch(/schema ferry is not installed.*ferry init/);
    }
  });

  it('an older schema is refused by name; ferry init upgrades it with the missing migrations only', async () => {
    const all = migrations();
    const older = all[all.length - 2];
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await migrate(c, { upTo: older.id }); // as an earlier Ferry release left it
    } finally {
      await c.end();
    }
    const newest = all[all.length - 1];
    const refused = await ferry(['run', '--config', cfgFile]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`schema ferry is at migration ${older.id} but this Ferry needs ${newest.id} (${newest.name}): run \`ferry init\``);
    const up = await ferry(['init', '--config', cfgFile]);
    expect(up.code).toBe(0);
    expect(up.out).toContain(`applied ${newest.name}`);
    expect(up.out).not.toContain(older.name);
    expect((await sql(url, 'select id from ferry.migrations order by id')).map((r) => r.id)).toEqual(all.map((m) => m.id));
  });
});
