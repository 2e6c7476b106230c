// ferry.origin cannot be spoofed (issue 11): the capture trigger lets a write that carries the
// setting pass uncaptured only when its session's role is Ferry's (a member of schema ferry's
// owner). An application session of another role that sets ferry.origin itself is captured like
// any other write; Ferry's own tagged writes are still skipped (no loop); an applier whose role
// could not skip is refused at start.
import { Client } from 'pg';
import { checkApplierRole } from '../../src/capture/applier-role';
import { dropDatabase, freshDatabase, sql, uniq } from '../support/db';
import { prepareOrigin } from '../support/origin';

/** The grants docs/operations.md lists for an application role apart from Ferry's. */
export function writerGrants(role: string, tables: string[]): string {
  return `
    grant usage on schema ferry to ${role};
    grant insert on ferry.changes_0, ferry.changes_1, ferry.changes_2 to ${role};
    grant select, insert, update on ferry.row_versions to ${role};
    grant select, insert, update, delete on ferry.counters, ferry.counter_resets to ${role};
    grant select on ferry.tracked to ${role};
    grant select, update on sequence ferry.clock to ${role};
    grant usage on sequence ferry.change_id_seq to ${role};
    grant select, insert, update, delete, truncate on ${tables.join(', ')} to ${role};`;
}

async function asRole(url: string, user: string, password: string, text: string): Promise<void> {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  const c = new Client({ connectionString: u.toString() });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

describe('ferry.origin set by an application session', () => {
  let url: string;
  const writer = uniq('app_writer');
  const member = uniq('ferry_member');
  beforeAll(async () => {
    url = await freshDatabase('a');
    await prepareOrigin(url, 'create table public.acct (id int primary key, v text);', ['public.acct']);
    await sql(url, `create role ${writer} login password 'writer-pw'; create role ${member} login password 'member-pw'; ${writerGrants(writer, ['public.acct'])}`);
    // a role Ferry may run as: a member of the role that owns schema ferry
    const owner = (await sql<{ o: string }>(url, `select pg_get_userbyid(nspowner)::text as o from pg_namespace where nspname = 'ferry'`))[0].o;
    await sql(url, `grant "${owner}" to ${member}`);
  });
  afterAll(async () => {
    await dropDatabase(url);
    await sql(url.replace(/\/[^/]*$/, '/ferry'), `drop role if exists ${writer}; drop role if exists ${member}`);
  });

  const captured = async () => (await sql<{ op: string; row: { id: number } | null }>(url, `select op, row from ferry.changes order by id`)).map((r) => `${r.op} ${r.row?.id ?? ''}`.trim());

  it('is captured when the session is not Ferry\'s role: insert, update, delete and truncate', async () => {
    const spoof = (stmt: string) => `begin; select set_config('ferry.origin', 'dc-b', true); ${stmt}; commit;`;
    await asRole(url, writer, 'writer-pw', spoof(`insert into public.acct values (1, 'spoofed')`));
    await asRole(url, writer, 'writer-pw', spoof(`update public.acct set v = 'again' where id = 1`));
    // set for the whole session, not just the transaction
    await asRole(url, writer, 'writer-pw', `select set_config('ferry.origin', 'dc-c', false); delete from public.acct where id = 1; truncate public.acct`);
    expect(await captured()).toEqual(['I 1', 'U 1', 'D 1', 'T']);
  });

  it("is skipped for Ferry's own role and its members, as the applier's writes are (no loop)", async () => {
    await sql(url, `truncate ferry.changes_0, ferry.changes_1, ferry.changes_2`);
    const u = new URL(url);
    await asRole(url, decodeURIComponent(u.username), decodeURIComponent(u.password), `begin; select set_config('ferry.origin', 'dc-b', true); insert into public.acct values (2, 'applied'); commit;`);
    await asRole(url, member, 'member-pw', `begin; select set_config('ferry.origin', 'dc-b', true); insert into public.acct values (3, 'applied'); commit;`);
    expect(await captured()).toEqual([]);
    // and the same sessions without the setting are captured
    await asRole(url, writer, 'writer-pw', `insert into public.acct values (4, 'plain')`);
    expect(await captured()).toEqual(['I 4']);
  });

  it('an applier whose role the trigger would not trust is refused, naming both roles and the fix', async () => {
    const u = new URL(url);
    u.username = writer;
    u.password = 'writer-pw';
    const c = new Client({ connectionString: u.toString() });
    await c.connect();
    try {
      const owner = decodeURIComponent(new URL(url).username);
      await expect(checkApplierRole(c)).rejects.toThrow(new RegExp(`Ferry connects as role "${writer}", but schema ferry belongs to "${owner}".*GRANT "${owner}" TO "${writer}"`));
    } finally {
      await c.end();
    }
    const m = new URL(url);
    m.username = member;
    m.password = 'member-pw';
    const c2 = new Client({ connectionString: m.toString() });
    await c2.connect();
    try {
      await expect(checkApplierRole(c2)).resolves.toBeUndefined();
    } finally {
      await c2.end();
    }
  });
});
