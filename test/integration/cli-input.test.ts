// Bad input at the command line (issue 11): tables Ferry cannot keep in sync are refused at
// `ferry track` with the reason and the fix; key sequences every DC would share are warned about;
// configuration and unreachable services end in one line and an exit code that says which.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { dropDatabase, freshDatabase, sql } from '../support/db';
import { ROOT, services } from '../support/services';
import { testFile } from '../support/files';

const run = promisify(execFile);

async function ferry(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [path.join(ROOT, 'bin', 'ferry'), ...args], { env: { ...process.env, FERRY_LOG_LEVEL: 'warn', ...env }, timeout: 60_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

function file(text: string, ext = 'yaml'): string {
  return testFile('cli', ext, text);
}

const config = (url: string, extra = '') => file(`origin: dc-a\ndatabase: ${url}\ntransport: { kind: kafka, brokers: [${services().FERRY_KAFKA_BROKERS}] }\npeers: [dc-b, dc-c]\nhttp: { port: 0 }\n${extra}`);

/** One line, no stack: what a user sees when something is wrong before anything ran. */
function oneLine(err: string): void {
  expect(err.trim().split('\n')).toHaveLength(1);
  expect(err).not.toMatch(/\n\s+at /);
  expect(err).not.toMatch(/unexpected error/);
}

describe('ferry track refuses what it cannot keep in sync', () => {
  let url: string;
  let cfg: string;
  beforeAll(async () => {
    url = await freshDatabase('a');
    cfg = config(url);
    expect((await ferry(['init', '--config', cfg])).code).toBe(0);
    await sql(
      url,
      `create table public.base (id int primary key, v text);
       create view public.base_view as select * from public.base;
       create materialized view public.base_mat as select * from public.base;
       create unlogged table public.scratch (id int primary key);
       create table public.deferred_pk (id int primary key deferrable);
       create table public.deferred_later (id int, constraint deferred_later_pkey primary key (id) deferrable initially deferred);
       create table public.nullable_key (a int, b text);
       create unique index on public.nullable_key (a);
       create table public.no_unique (a int not null, b text);
       create table public.parts (id int, k int, primary key (id, k)) partition by range (k);
       create table public.parts_1 partition of public.parts for values from (0) to (10);`,
    );
  });
  afterAll(() => dropDatabase(url));

  const refused = async (table: string, reason: RegExp, fix: RegExp, extra: string[] = []) => {
    const r = await ferry(['track', '--config', cfg, ...extra, table]);
    expect([table, r.code]).toEqual([table, 1]);
    expect(r.err).toMatch(reason);
    expect(r.err).toMatch(fix);
    expect(r.err).not.toMatch(/\n\s+at /);
    return r;
  };

  it('Ferry\'s own tables, views, materialized views, unlogged tables and partitions', async () => {
    await refused('ferry.ticks', /cannot track Ferry's own table ferry\.ticks/, /track your application's tables/);
    await refused('public.base_view', /base_view is a view, not a table/, /Track the table\(s\) it reads from/);
    await refused('public.base_mat', /base_mat is a materialized view, not a table/, /Track the table/);
    await refused('public.scratch', /scratch is unlogged: after a crash PostgreSQL empties it/, /ALTER TABLE scratch SET LOGGED/);
    await refused('public.parts_1', /parts_1 is a partition of parts/, /Track the partitioned table/);
    expect(await sql(url, `select tbl::text from ferry.tracked`)).toEqual([]);
  });

  it('a temporary table', async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('create temp table tmp_t (id int primary key)');
      await expect(c.query(`select ferry.track('tmp_t')`)).rejects.toThrow(/tmp_t is a temporary table: it lives only in one session/);
    } finally {
      await c.end();
    }
  });

  it('a DEFERRABLE primary key (a shift of keys in one statement could not be replayed), naming the constraint and the fix', async () => {
    await refused('public.deferred_pk', /the key of deferred_pk is DEFERRABLE \(constraint deferred_pk_pkey\)/, /ALTER TABLE deferred_pk DROP CONSTRAINT deferred_pk_pkey, ADD PRIMARY KEY \(id\)/);
    await refused('public.deferred_later', /DEFERRABLE/, /NOT DEFERRABLE/);
    // made NOT DEFERRABLE as the message says, it is tracked
    await sql(url, `alter table deferred_pk drop constraint deferred_pk_pkey, add primary key (id)`);
    expect((await ferry(['track', '--config', cfg, 'public.deferred_pk'])).code).toBe(0);
  });

  it('--key over columns that can be NULL or that no unique index holds', async () => {
    await refused('public.nullable_key', /key column\(s\) a of nullable_key can be NULL/, /SET NOT NULL/, ['--key', 'a']);
    await refused('public.no_unique', /no unique index of no_unique holds only the columns a/, /CREATE UNIQUE INDEX ON no_unique \(a\)/, ['--key', 'a']);
    await sql(url, `alter table nullable_key alter column a set not null`);
    expect((await ferry(['track', '--config', cfg, '--key', 'a', 'public.nullable_key'])).code).toBe(0);
  });

  it('a partitioned table is tracked, with a TRUNCATE trigger on every partition', async () => {
    expect((await ferry(['track', '--config', cfg, 'public.parts'])).code).toBe(0);
    const trig = await sql<{ rel: string }>(url, `select tgrelid::regclass::text as rel from pg_trigger where tgname = 'ferry_capture_truncate' and tgrelid::regclass::text like 'parts%' order by 1`);
    expect(trig.map((t) => t.rel)).toEqual(['parts', 'parts_1']);
    expect((await ferry(['untrack', '--config', cfg, 'public.parts'])).code).toBe(0);
    expect(await sql(url, `select 1 from pg_trigger where tgname like 'ferry_capture%' and tgrelid::regclass::text like 'parts%'`)).toEqual([]);
  });
});

describe('ferry track warns about key sequences every DC shares', () => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase('a');
    expect((await ferry(['init', '--config', config(url)])).code).toBe(0);
  });
  afterAll(() => dropDatabase(url));

  it('identity and serial keys with step 1 are named with the fix; a step per DC or a range per DC is quiet', async () => {
    await sql(
      url,
      `create table public.ident (id bigint generated always as identity primary key, v text);
       create table public.ser (id serial primary key, v text);
       create table public.stepped (id bigint generated by default as identity (increment by 3 start with 2) primary key);
       create table public.ranged (id bigint generated by default as identity (minvalue 2000000000 maxvalue 2999999999) primary key);
       create table public.plain (id int primary key);`,
    );
    const r = await ferry(['track', '--config', config(url), 'public.ident', 'public.ser', 'public.stepped', 'public.ranged', 'public.plain']);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(5);
    const warnings = r.err.trim().split('\n');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/warning: public\.ident\.id takes its values from ident_id_seq \(start 1, step 1\).*same keys.*INCREMENT BY 3.*MINVALUE/);
    expect(warnings[1]).toMatch(/warning: public\.ser\.id takes its values from ser_id_seq/);
    // the fix the warning names silences it
    await sql(url, `alter table ident alter column id set increment by 3 restart with 1`);
    const again = await ferry(['track', '--config', config(url), 'public.ident']);
    expect(again.err).toBe('');
  });
});

describe('configuration and unreachable services: one line, an exit code that says which', () => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase('a');
  });
  afterAll(() => dropDatabase(url));

  it('a missing file, bad YAML and an unknown key exit 2', async () => {
    for (const [f, msg] of [
      [path.join(ROOT, '.ferry', 'no-such-config.yaml'), /cannot read config file .*no-such-config\.yaml/],
      [file('origin: dc-a\ndatabase: [unclosed\n'), /is not valid YAML\/JSON/],
      [config(url, 'colour: blue\n'), /Unrecognized key.*colour/],
    ] as const) {
      const r = await ferry(['status', '--config', f]);
      expect([f, r.code]).toEqual([f, 2]);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('a database that is down, unknown, or refuses the password exits 3 naming the key and the fix, never the password', async () => {
    const u = new URL(url);
    const down = new URL(url);
    down.port = '1';
    down.password = 'Down-Pa55word';
    const unknown = new URL(url);
    unknown.pathname = '/no_such_db';
    const wrong = new URL(url);
    wrong.password = 'Wr0ng-Pa55word';
    for (const [cmd, target, msg] of [
      ['status', down, /nothing listens there: start PostgreSQL, or correct the host and port/],
      ['init', down, /nothing listens there/],
      ['track', down, /nothing listens there/],
      ['status', unknown, /no database of that name/],
      ['status', wrong, /the password is wrong/],
      // the sidecar waits for a database that is down, but not for a password that is wrong
      ['run', wrong, /the password is wrong/],
    ] as const) {
      const args = cmd === 'track' ? ['track', 'public.t'] : [cmd];
      const r = await ferry([...args, '--config', config(target.toString())]);
      expect([cmd, target.toString(), r.code]).toEqual([cmd, target.toString(), 3]);
      expect(r.err).toMatch(/cannot connect to this DC's database \(key database: postgres:\/\/.*\)/);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toContain(target.password);
      oneLine(r.err.split('\n').filter((l) => l.startsWith('ferry:')).join('\n'));
    }
    expect(u.password).not.toBe('');
  });

  it('at start, a database that does not answer within startupTimeoutMs: run, apply and forward exit 3 in one line naming the key', async () => {
    const down = new URL(url);
    down.port = '1';
    for (const cmd of ['run', 'apply', 'forward']) {
      const t0 = Date.now();
      const r = await ferry([cmd, '--config', config(down.toString())], { FERRY_STARTUP_TIMEOUT_MS: '1500' });
      expect([cmd, r.code]).toEqual([cmd, 3]);
      oneLine(r.err);
      expect(r.err).toMatch(/^ferry: cannot connect to this DC's database \(key database: postgres:\/\/.*\): nothing listens there: start PostgreSQL, or correct the host and port \(waited 1500 ms; startupTimeoutMs \(FERRY_STARTUP_TIMEOUT_MS\) sets how long\)$/m);
      expect(Date.now() - t0).toBeLessThan(30_000);
    }
  });

  describe('at start, a transport server that does not answer', () => {
    let ready: string;
    beforeAll(async () => {
      ready = await freshDatabase('a');
      expect((await ferry(['init', '--config', config(ready)])).code).toBe(0);
    });
    afterAll(() => dropDatabase(ready));
    const closed = '127.0.0.1:1'; // nothing listens on port 1

    it('Kafka: run, apply and forward exit 3 in one line naming the brokers, their key and variable', async () => {
      for (const cmd of ['run', 'apply', 'forward']) {
        const t0 = Date.now();
        const cfg = file(`origin: dc-a\ndatabase: ${ready}\ntransport: { kind: kafka, brokers: [${closed}] }\npeers: [dc-b]\nhttp: { port: 0 }\nstartupTimeoutMs: 2000\n`);
        const r = await ferry([cmd, '--config', cfg]);
        expect([cmd, r.code]).toEqual([cmd, 3]);
        oneLine(r.err);
        expect(r.err).toMatch(
          /^ferry: cannot reach the Kafka broker\(s\) 127\.0\.0\.1:1 \(key transport\.brokers, FERRY_TRANSPORT__BROKERS\) within 2000 ms: .*: start Kafka, or correct the addresses; startupTimeoutMs \(FERRY_STARTUP_TIMEOUT_MS\) sets how long Ferry waits at start$/m,
        );
        expect(Date.now() - t0).toBeLessThan(30_000);
      }
    });

    it('SQS: run and forward exit 3 in one line naming the endpoint, its key and variable', async () => {
      for (const cmd of ['run', 'forward']) {
        const cfg = file(
          `origin: dc-a\ndatabase: ${ready}\ntransport: { kind: sqs, endpoint: 'http://${closed}', accessKeyId: test, secretAccessKey: test-secret-key }\npeers: [dc-b]\nhttp: { port: 0 }\n`,
        );
        const r = await ferry([cmd, '--config', cfg], { FERRY_STARTUP_TIMEOUT_MS: '2000' });
        expect([cmd, r.code]).toEqual([cmd, 3]);
        oneLine(r.err);
        expect(r.err).toMatch(/^ferry: cannot reach the SQS server http:\/\/127\.0\.0\.1:1 \(key transport\.endpoint, FERRY_TRANSPORT__ENDPOINT\) within 2000 ms: .*start it, or correct the address/m);
        expect(r.err).not.toContain('test-secret-key');
      }
    });

    it('SQS without any credentials: exit 2 naming the keys and the AWS chain', async () => {
      const cfg = file(`origin: dc-a\ndatabase: ${ready}\ntransport: { kind: sqs, endpoint: '${services().FERRY_SQS_ENDPOINT}' }\npeers: [dc-b]\nhttp: { port: 0 }\n`);
      const noAws = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'ferry-test-no-such-profile', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true', AWS_CONTAINER_CREDENTIALS_FULL_URI: '', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '', AWS_WEB_IDENTITY_TOKEN_FILE: '' };
      const r = await ferry(['forward', '--config', cfg], noAws);
      expect(r.code).toBe(2);
      oneLine(r.err);
      expect(r.err).toMatch(/^ferry: no AWS credentials for SQS at http:.*: set transport\.accessKeyId and transport\.secretAccessKey \(FERRY_TRANSPORT__ACCESS_KEY_ID, FERRY_TRANSPORT__SECRET_ACCESS_KEY\)/m);
    });

    it('once the services answer, the same commands start (the probe passes)', async () => {
      const cfg = file(`origin: dc-a\ndatabase: ${ready}\ntransport: { kind: kafka, brokers: [${services().FERRY_KAFKA_BROKERS}] }\npeers: []\nhttp: { port: 0 }\nstartupTimeoutMs: 2000\n`);
      // `ferry forward` runs until stopped: the timeout of the helper is not reached, so run it briefly
      const child = execFile(process.execPath, [path.join(ROOT, 'bin', 'ferry'), 'forward', '--config', cfg], { env: { ...process.env, FERRY_LOG_LEVEL: 'info' } });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 30_000;
      while (!/publishing to Kafka/.test(out) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      expect(out).toMatch(/publishing to Kafka/);
    });
  });
});
