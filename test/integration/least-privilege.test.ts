// The least-privilege role of docs/operations.md ("Roles and privileges") runs Ferry end to end
// (issue 11): a login role with nothing but CONNECT and CREATE on the database, USAGE on the
// application's schema and the table privileges listed there runs `ferry init`, `ferry track`,
// `ferry forward` in dc-a and `ferry run` in dc-b over the real Kafka broker, while the application
// writes as its own role (granted what the docs list), and a change arrives. The grants here are
// the docs' text, statement for statement.
import { spawn, ChildProcess, execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { dropDatabase, freshDatabase, sql, uniq } from '../support/db';
import { waitFor } from '../support/origin';
import { ROOT, services } from '../support/services';
import { testFile } from '../support/files';

const run = promisify(execFile);

const withUser = (url: string, user: string, password: string) => {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
};

describe('a least-privilege role runs Ferry', () => {
  const role = uniq('ferry_lp');
  const password = 'Lp-' + uniq('pw');
  const prefix = uniq('lp');
  const urls: Record<string, string> = {};
  const procs: ChildProcess[] = [];

  const configFor = (dc: string, peers: string[]) => {
    const cfg = { origin: dc, database: withUser(urls[dc], role, password), transport: { kind: 'kafka', brokers: services().FERRY_KAFKA_BROKERS.split(','), topicPrefix: prefix }, peers, http: { port: 0 }, forward: { tickIntervalMs: 20, idleAfterMs: 500 } };
    return testFile('lp', 'json', JSON.stringify(cfg));
  };
  const ferry = async (args: string[]) => {
    try {
      const r = await run(process.execPath, [path.join(ROOT, 'bin', 'ferry'), ...args], { env: { ...process.env, FERRY_LOG_LEVEL: 'warn' }, timeout: 60_000 });
      return { code: 0, err: r.stderr };
    } catch (e) {
      const x = e as { code: number; stderr: string };
      return { code: x.code, err: x.stderr };
    }
  };

  beforeAll(async () => {
    urls['dc-a'] = await freshDatabase('a');
    urls['dc-b'] = await freshDatabase('b');
    for (const dc of ['dc-a', 'dc-b']) {
      const db = decodeURIComponent(new URL(urls[dc]).pathname.slice(1));
      // roles are per cluster: made once in each (dc-a and dc-b are separate clusters)
      await sql(urls[dc], `create role ${role} login password '${password}' nosuperuser nocreatedb nocreaterole noreplication`);
      // the application's table, owned by the application's role (the one the URL names)
      await sql(urls[dc], `create table public.accounts (id int primary key, owner text not null, balance numeric not null)`);
      // docs/operations.md, "Roles and privileges": Ferry's role
      await sql(
        urls[dc],
        `grant connect, create on database "${db}" to ${role};
         grant usage on schema public to ${role};
         grant select, insert, update, delete, truncate, trigger on public.accounts to ${role};`,
      );
    }
  });

  afterAll(async () => {
    // the role's sessions must be gone before the database is dropped: the test's own role may not
    // end another role's sessions (and is not made a member of it, which would lend the
    // application's role Ferry's rights and hide a missing grant)
    await Promise.all(
      procs.map((p) => {
        if (p.exitCode !== null || p.signalCode !== null) return undefined;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        return gone;
      }),
    );
    for (const dc of ['dc-a', 'dc-b']) {
      for (let i = 0; i < 100; i++) {
        const left = await sql<{ n: string }>(urls[dc], `select count(*) as n from pg_stat_activity where usename = $1`, [role]);
        if (Number(left[0].n) === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await dropDatabase(urls[dc]);
      const admin = urls[dc].replace(/\/[^/]*$/, '/ferry');
      await sql(admin, `drop role if exists ${role}`);
    }
  });

  it('init, track, forward and run with only the documented privileges; the application writes as its own role; a change arrives', async () => {
    const cfgA = configFor('dc-a', ['dc-b']);
    const cfgB = configFor('dc-b', ['dc-a']);
    for (const [dc, cfg] of [['dc-a', cfgA], ['dc-b', cfgB]]) {
      expect([dc, 'init', await ferry(['init', '--config', cfg])]).toEqual([dc, 'init', { code: 0, err: '' }]);
      const t = await ferry(['track', '--config', cfg, 'public.accounts']);
      expect([dc, 'track', t]).toEqual([dc, 'track', { code: 0, err: '' }]);
      // docs/operations.md: the application's role, granted by Ferry's (which owns schema ferry)
      const app = decodeURIComponent(new URL(urls[dc]).username);
      await sql(
        withUser(urls[dc], role, password),
        `grant usage on schema ferry to ${app};
         grant insert on ferry.changes_0, ferry.changes_1, ferry.changes_2 to ${app};
         grant select, insert, update on ferry.row_versions to ${app};
         grant select, insert, update, delete on ferry.counters, ferry.counter_resets to ${app};
         grant select on ferry.tracked to ${app};
         grant select, update on sequence ferry.clock to ${app};
         grant usage on sequence ferry.change_id_seq to ${app};`,
      );
    }
    // schema ferry belongs to the least-privilege role, which has no other rights
    expect(await sql(urls['dc-a'], `select pg_get_userbyid(nspowner)::text as owner from pg_namespace where nspname = 'ferry'`)).toEqual([{ owner: role }]);
    expect(await sql(urls['dc-a'], `select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls from pg_roles where rolname = $1`, [role])).toEqual([
      { rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false },
    ]);

    const stderr: Record<string, string> = { forward: '', run: '' };
    const start = (cmd: 'forward' | 'run', cfg: string) => {
      const p = spawn(process.execPath, [path.join(ROOT, 'bin', 'ferry'), cmd, '--config', cfg], { env: { ...process.env, FERRY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
      p.stderr!.on('data', (d: Buffer) => (stderr[cmd] += d.toString()));
      procs.push(p);
      return p;
    };
    const fwd = start('forward', cfgA);
    const sidecar = start('run', cfgB);

    // the application writes in dc-a as its own role (not Ferry's)
    await sql(urls['dc-a'], `insert into public.accounts values (1, 'ada', 10.50), (2, 'bob', 3)`);
    await sql(urls['dc-a'], `update public.accounts set balance = balance + 1 where id = 1`);
    const arrived = await waitFor(
      async () => {
        const rows = await sql(urls['dc-b'], `select id, owner, balance::text from public.accounts order by id`);
        return rows.length === 2 && rows[0].balance === '11.50' ? rows : undefined;
      },
      60_000,
      'the changes of dc-a in dc-b',
    );
    expect(arrived).toEqual([
      { id: 1, owner: 'ada', balance: '11.50' },
      { id: 2, owner: 'bob', balance: '3' },
    ]);
    // applied by the least-privilege role, and not captured again in dc-b (no loop back)
    expect(await sql(withUser(urls['dc-b'], role, password), `select count(*)::int as n from ferry.changes`)).toEqual([{ n: 0 }]);
    expect([fwd.exitCode, sidecar.exitCode]).toEqual([null, null]);
    expect(stderr).toEqual({ forward: '', run: '' });
  }, 180_000);
});
