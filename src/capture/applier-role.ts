import type { Queryable } from '../common/db';
import { FerryError } from '../common/errors';

/**
 * The capture trigger lets a write pass uncaptured only when it carries ferry.origin and its session's
 * role is Ferry's: a member of the owner of schema ferry (the role that ran `ferry init`), which the
 * capture function holds as a constant (functions/02_capture.sql). An application session that sets
 * ferry.origin itself is captured like any other write.
 *
 * So an applier whose role is not such a member would have its own writes captured and sent back:
 * a loop between DCs. It refuses to start instead, naming both roles and the fix.
 */
export async function checkApplierRole(db: Queryable): Promise<void> {
  const r = await db.query<{ me: string; owner: string; ok: boolean }>(
    `select session_user::text as me, pg_get_userbyid(n.nspowner)::text as owner, pg_has_role(session_user, n.nspowner, 'MEMBER') as ok
       from pg_namespace n where n.nspname = 'ferry'`,
  );
  const row = r.rows[0];
  if (!row) throw new FerryError('schema ferry is not installed in this database: run `ferry init` first');
  if (!row.ok) {
    throw new FerryError(
      `Ferry connects as role ${JSON.stringify(row.me)}, but schema ferry belongs to ${JSON.stringify(row.owner)}: the capture trigger skips only the writes of that role's members, so this applier's writes would be captured and sent back; ` +
        `connect as ${JSON.stringify(row.owner)} (key database, FERRY_DATABASE), or GRANT ${JSON.stringify(row.owner)} TO ${JSON.stringify(row.me)}`,
    );
  }
}
