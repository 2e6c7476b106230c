import type { Queryable } from '../common/db';
import { StreamError } from '../common/errors';
import type { Change } from '../protocol/envelope';
import type { GroupContext } from './group-writer';
import type { LocalState } from './local-state';
import { Conflict, resolve } from './resolve';
import type { TableInfo } from './table-info';

/**
 * Whether each change wins over what this DC holds for its key (`states`, by index), by the
 * merge rule; the conflicts met are added to `conflicts`. Awaits only where the user's function is
 * asked: a group's thousands of rows are not a thousand suspensions.
 */
export async function decideEach(db: Queryable, ctx: GroupContext, t: TableInfo, changes: Change[], states: LocalState[], conflicts: Conflict[]): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const [i, c] of changes.entries()) {
    const s = states[i];
    let choose: 'local' | 'remote' | undefined;
    if (ctx.fn && s.version && s.version.origin !== ctx.origin) choose = await askFunction(db, ctx, t, c, s);
    const r = resolve(ctx.policy, c, ctx.origin, s, t.wireName, choose);
    if (r.conflict) conflicts.push(r.conflict);
    out.push(r.wins);
  }
  return out;
}

/** The user's conflict function chooses (it must choose the same in every DC). */
async function askFunction(db: Queryable, ctx: GroupContext, t: TableInfo, c: Change, s: LocalState): Promise<'local' | 'remote'> {
  const r = await db.query<{ w: string }>(
    `select ${ctx.fn}($1::text, $2::jsonb, (select to_jsonb(t) from ${t.sql} t where t.tableoid = $5::oid and t.ctid = $3::tid), $4::jsonb) as w`,
    [t.wireName, c.key, s.ctid ?? null, c.row, s.rel ?? null],
  );
  const w = r.rows[0]?.w;
  if (w !== 'local' && w !== 'remote') throw new StreamError(`conflict function ${ctx.fn} returned ${JSON.stringify(w)}; it must return 'local' or 'remote'`, { origin: ctx.origin, pos: c.pos });
  return w;
}
