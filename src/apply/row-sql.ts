import type { Queryable } from '../common/db';
import { quoteIdent } from '../common/db';
import { StreamError } from '../common/errors';
import type { Change, RowImage } from '../protocol/envelope';
import { stringifyExact } from '../protocol/json';
import { TableCatalog, TableInfo } from './table-info';

type Kind = 'upsert' | 'delete' | 'rekey' | 'truncate';

const kindOf = (c: Change): Kind => (c.op === 'T' ? 'truncate' : c.op === 'D' ? 'delete' : c.old ? 'rekey' : 'upsert');

interface Run {
  kind: Kind;
  table: string;
  sig: string;
  changes: Change[];
}

/**
 * The wire values as a typed record set of just these columns. Only the columns that travelled are
 * read (jsonb_to_recordset), so a destination column the origin does not have (say a NOT NULL
 * domain with a default) is left to its default instead of being built as NULL.
 */
const recordset = (t: TableInfo, cols: string[], alias: string, asText: Set<string> = new Set()) =>
  `jsonb_to_recordset($1::jsonb) as ${alias}(${cols.map((c) => `${quoteIdent(c)} ${asText.has(c) ? 'text' : t.types.get(c)}`).join(', ')})`;

/**
 * The row to write, with json/jsonb columns in `asText` as their exact text: from the change's
 * jsonText where it has one (a json column as written, a jsonb JSON null), else the image's value
 * written out as JSON (SQL NULL stays NULL).
 */
function withJsonText(c: Change, asText: Set<string>): RowImage {
  const row: RowImage = { ...c.row! };
  for (const k of asText) {
    const exact = c.jsonText?.[k];
    row[k] = exact !== undefined ? exact : row[k] === null || row[k] === undefined ? null : stringifyExact(row[k]);
  }
  return row;
}

/**
 * Applies changes, in order, with few round trips: consecutive changes of one kind to one table
 * become one statement over jsonb_to_recordset (the values go as one parameter; PostgreSQL's own
 * input functions turn them back into typed values). Order between runs is kept, so foreign
 * keys see parents before children exactly as at the origin.
 */
export async function applyChanges(db: Queryable, catalog: TableCatalog, origin: string, changes: Change[]): Promise<void> {
  for (const run of runs(changes)) {
    const first = run.changes[0];
    const where = { pos: first.pos };
    if (run.kind === 'truncate') {
      const names = [];
      for (const c of run.changes) names.push((await catalog.get(c.table, where)).sql);
      await db.query(`truncate only ${[...new Set(names)].join(', ')}`);
      continue;
    }
    const t = await catalog.get(run.table, where);
    if (run.kind === 'upsert') await upsert(db, t, origin, run.changes);
    else if (run.kind === 'delete') await remove(db, t, origin, run.changes.map((c) => c.key!));
    else {
      for (const c of run.changes) {
        await remove(db, t, origin, [c.old!]);
        await upsert(db, t, origin, [c]);
      }
    }
  }
}

function runs(changes: Change[]): Run[] {
  const out: Run[] = [];
  for (const c of changes) {
    const kind = kindOf(c);
    const sig = kind === 'upsert' ? Object.keys(c.row!).join('\u0000') : '';
    const last = out[out.length - 1];
    if (last && last.kind === kind && (kind === 'truncate' || (last.table === c.table && last.sig === sig))) last.changes.push(c);
    else out.push({ kind, table: c.table, sig, changes: [c] });
  }
  return out;
}

function keyColumns(t: TableInfo, origin: string, c: Change): string[] {
  const cols = Object.keys(c.key ?? {});
  const missing = cols.filter((k) => !t.columns.has(k));
  if (missing.length) throw new StreamError(`schema mismatch: key column(s) ${missing.join(', ')} of ${t.wireName} are not at this DC`, { origin, pos: c.pos });
  const same = (u: string[]) => u.length === cols.length && u.every((x) => cols.includes(x));
  if (!t.uniqueKeys.some(same)) {
    throw new StreamError(`${t.wireName} has no primary key or unique index on (${cols.join(', ')}) at this DC; Ferry needs one to apply changes idempotently`, { origin, pos: c.pos });
  }
  return cols;
}

async function upsert(db: Queryable, t: TableInfo, origin: string, changes: Change[]): Promise<void> {
  const c0 = changes[0];
  const keys = keyColumns(t, origin, c0);
  const cols = Object.keys(c0.row!);
  const unknown = cols.filter((k) => !t.columns.has(k));
  if (unknown.length) {
    throw new StreamError(`schema mismatch: column(s) ${unknown.join(', ')} of ${t.wireName} are not at this DC (add them, then \`ferry resume --origin ${origin}\`)`, { origin, pos: c0.pos });
  }
  const write = cols.filter((k) => !t.generated.has(k));
  // json/jsonb columns whose exact text came beside the image: read as text, cast to the column's type
  const asText = new Set<string>();
  for (const c of changes) for (const k of Object.keys(c.jsonText ?? {})) if (write.includes(k) && t.types.has(k)) asText.add(k);
  // one statement may not touch a row twice: the last image of each key wins, as it would in sequence
  const byKey = new Map<string, RowImage>();
  for (const c of changes) byKey.set(stringifyExact(keys.map((k) => c.row![k])), asText.size ? withJsonText(c, asText) : c.row!);
  const list = write.map(quoteIdent).join(', ');
  const values = write.map((k) => (asText.has(k) ? `x.${quoteIdent(k)}::${t.types.get(k)}` : `x.${quoteIdent(k)}`)).join(', ');
  const set = write.filter((k) => !keys.includes(k)).map((k) => `${quoteIdent(k)} = excluded.${quoteIdent(k)}`);
  await db.query(
    `insert into ${t.sql} (${list}) select ${values} from ${recordset(t, write, 'x', asText)}
     on conflict (${keys.map(quoteIdent).join(', ')}) do ${set.length ? `update set ${set.join(', ')}` : 'nothing'}`,
    [stringifyExact([...byKey.values()])],
  );
}

async function remove(db: Queryable, t: TableInfo, origin: string, keys: RowImage[]): Promise<void> {
  const cols = Object.keys(keys[0]);
  const missing = cols.filter((k) => !t.columns.has(k));
  if (missing.length) throw new StreamError(`schema mismatch: key column(s) ${missing.join(', ')} of ${t.wireName} are not at this DC`, { origin });
  const q = cols.map(quoteIdent);
  await db.query(
    `delete from ${t.sql} t using ${recordset(t, cols, 'k')}
      where (${q.map((c) => `t.${c}`).join(', ')}) = (${q.map((c) => `k.${c}`).join(', ')})`,
    [stringifyExact(keys)],
  );
}
