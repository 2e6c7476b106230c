// Schema ferry as installed is what src/capture/schema.sql says (every schema change shows up in
// review), `ferry init` is idempotent, and a function body that differs from the build is refused.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { checkSchema, migrate } from '../../src/capture/migrate';
import { LOCK_CLASS } from '../../src/common/locks';
import { dropDatabase, freshDatabase } from '../support/db';
import { ROOT } from '../support/services';

const SNAPSHOT = path.join(ROOT, 'src', 'capture', 'schema.sql');

/** pg_dump --schema-only -n ferry, without what varies between machines and runs. */
function dumpSchema(url: string): string {
  const out = execFileSync('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', '-n', 'ferry', url], { encoding: 'utf8' });
  return (
    out
      .split('\n')
      .filter((l) => !/^--/.test(l) && !/^SET /.test(l) && !/^SELECT pg_catalog\.set_config/.test(l) && !/^\\(un)?restrict /.test(l))
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim() + '\n'
  );
}

describe('schema ferry', () => {
  let url: string;
  let c: Client;
  beforeAll(async () => {
    url = await freshDatabase('a');
    c = new Client({ connectionString: url });
    await c.connect();
    await migrate(c, { origin: 'dc-a' });
  });
  afterAll(async () => {
    await c.end();
    await dropDatabase(url);
  });

  it('is what src/capture/schema.sql says (FERRY_UPDATE_SCHEMA=1 rewrites it after a deliberate change)', () => {
    const now = dumpSchema(url);
    if (process.env.FERRY_UPDATE_SCHEMA === '1') writeFileSync(SNAPSHOT, now);
    if (!existsSync(SNAPSHOT)) throw new Error(`${SNAPSHOT} is missing: run this test with FERRY_UPDATE_SCHEMA=1 once and commit it`);
    expect(now).toBe(readFileSync(SNAPSHOT, 'utf8'));
  });

  it('ferry init twice changes nothing, and the build check passes', async () => {
    const before = dumpSchema(url);
    const again = await migrate(c, { origin: 'dc-a' });
    expect(again.applied).toEqual([]);
    expect(dumpSchema(url)).toBe(before);
    await expect(checkSchema(c)).resolves.toBeUndefined();
  });

  it('SQL and TypeScript agree on the advisory lock class', async () => {
    expect((await c.query('select ferry.lock_class() as k')).rows[0].k).toBe(LOCK_CLASS);
  });

  it('a function changed by hand, or one added, is refused by name until ferry init restores it', async () => {
    await c.query(`create or replace function ferry.rotate() returns boolean language plpgsql as $$ begin return false; end $$`);
    await c.query(`create function ferry.extra() returns int language sql as 'select 1'`);
    await expect(checkSchema(c)).rejects.toThrow(/function\(s\) .*ferry\.extra\(\).*ferry\.rotate\(\).* differ from what `ferry init` installed .*run `ferry init` to restore them/);
    await c.query('drop function ferry.extra()');
    await migrate(c, { origin: 'dc-a' });
    await expect(checkSchema(c)).resolves.toBeUndefined();
  });

  it('functions of another build are refused', async () => {
    await c.query(`update ferry.functions set build = 'another'`);
    await expect(checkSchema(c)).rejects.toThrow(/installed by another Ferry build: run `ferry init`/);
    await migrate(c, { origin: 'dc-a' });
    await expect(checkSchema(c)).resolves.toBeUndefined();
  });
});
