import type { Queryable } from '../common/db';
import { quoteIdent } from '../common/db';
import { FerryError } from '../common/errors';
import { keyTextSql } from '../apply/version-sql';

/**
 * The statements `ferry verify` runs on a tracked table, the same in both DCs: a row is hashed as
 * the text of its columns in one fixed order (session settings fixed too, so the text does not
 * depend on them); a range of keys is summed as (count, sum of 64-bit row hashes), an order-free
 * checksum; keys are written as the wire writes them (`{"id": 1}`).
 */
export interface VerifyTable {
  name: string;
  sql: string;
  oid: number;
  keyCols: string[];
  keyTypes: string[];
  /** Every column, in this DC's order: both sides hash them in this order. */
  columns: string[];
}

/** A half-open range of keys, [lo, hi), as text of each key column; null: unbounded. */
export interface KeyRange {
  lo: string[] | null;
  hi: string[] | null;
}

export const SESSION = `set datestyle = 'ISO, YMD'; set timezone = 'UTC'; set extra_float_digits = 3; set bytea_output = 'hex'; set intervalstyle = 'postgres'`;

export async function describeTable(db: Queryable, name: string, keyCols: string[]): Promise<VerifyTable> {
  const r = await db.query<{ oid: number | null }>('select to_regclass($1)::oid as oid', [name]);
  const oid = r.rows[0]?.oid;
  if (oid === null || oid === undefined) throw new FerryError(`table ${name} does not exist`);
  const cols = await db.query<{ name: string; type: string; nsp: string; rel: string }>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, n.nspname as nsp, c.relname as rel
       from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    [oid],
  );
  const types = new Map(cols.rows.map((c) => [c.name, c.type]));
  return {
    name,
    oid: Number(oid),
    sql: `${quoteIdent(cols.rows[0].nsp)}.${quoteIdent(cols.rows[0].rel)}`,
    keyCols,
    keyTypes: keyCols.map((k) => types.get(k)!),
    columns: cols.rows.map((c) => c.name),
  };
}

const rowText = (t: VerifyTable) => `md5(row(${t.columns.map((c) => `t.${quoteIdent(c)}`).join(', ')})::text)`;
const keyTuple = (t: VerifyTable) => `(${t.keyCols.map((k) => `t.${quoteIdent(k)}`).join(', ')})`;
/** The key as the wire writes it (the capture trigger and the applier write it so). */
const keyText = (t: VerifyTable) => keyTextSql(t.keyCols, 't');

/** `where` for a range, with its parameters numbered from `first`. */
function rangeWhere(t: VerifyTable, r: KeyRange, first = 1): { sql: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  const tuple = (vals: string[]) => `(${vals.map((v, i) => (params.push(v), `$${first + params.length - 1}::${t.keyTypes[i]}`)).join(', ')})`;
  if (r.lo) parts.push(`${keyTuple(t)} >= ${tuple(r.lo)}`);
  if (r.hi) parts.push(`${keyTuple(t)} < ${tuple(r.hi)}`);
  return { sql: parts.length ? parts.join(' and ') : 'true', params };
}

export interface RangeSum {
  count: number;
  sum: string;
}

export async function rangeSum(db: Queryable, t: VerifyTable, r: KeyRange): Promise<RangeSum> {
  const w = rangeWhere(t, r);
  const q = await db.query<{ n: string; s: string | null }>(
    `select count(*) as n, sum(('x' || substr(${rowText(t)}, 1, 16))::bit(64)::bigint)::text as s from ${t.sql} t where ${w.sql}`,
    w.params,
  );
  return { count: Number(q.rows[0].n), sum: q.rows[0].s ?? '0' };
}

/** Keys that cut the range into about `parts` ranges of equal row counts (the first key of each but the first). */
export async function splitKeys(db: Queryable, t: VerifyTable, r: KeyRange, count: number, parts: number): Promise<string[][]> {
  const step = Math.max(1, Math.ceil(count / parts));
  const w = rangeWhere(t, r, 2);
  const cols = t.keyCols.map((k, i) => `${quoteIdent(k)}::text as k${i}`).join(', ');
  const q = await db.query<Record<string, string>>(
    `select ${cols} from (select ${t.keyCols.map((k) => `t.${quoteIdent(k)}`).join(', ')}, row_number() over (order by ${keyTuple(t).slice(1, -1)}) as rn
                          from ${t.sql} t where ${w.sql}) x
      where rn > 1 and (rn - 1) % $1 = 0`,
    [step, ...w.params],
  );
  return q.rows.map((row) => t.keyCols.map((_, i) => row[`k${i}`]));
}

/** Each row of the range: its key (wire text), hash and xmin (to notice a later write of it). */
export async function rangeRows(db: Queryable, t: VerifyTable, r: KeyRange): Promise<Map<string, { hash: string; xmin: string }>> {
  const w = rangeWhere(t, r);
  const q = await db.query<{ k: string; h: string; x: string }>(`select ${keyText(t)} as k, ${rowText(t)} as h, t.xmin::text as x from ${t.sql} t where ${w.sql}`, w.params);
  return new Map(q.rows.map((x) => [x.k, { hash: x.h, xmin: x.x }]));
}

/** The rows of these keys (wire texts) that exist: hash and xmin. */
export async function rowsByKey(db: Queryable, t: VerifyTable, keys: string[]): Promise<Map<string, { hash: string; xmin: string }>> {
  const defs = t.keyCols.map((k, i) => `${quoteIdent(k)} ${t.keyTypes[i]}`).join(', ');
  const match = t.keyCols.map((k) => `t.${quoteIdent(k)} = x.${quoteIdent(k)}`).join(' and ');
  const q = await db.query<{ k: string; h: string; x: string }>(
    `select ${keyText(t)} as k, ${rowText(t)} as h, t.xmin::text as x from json_to_recordset($1::json) as x(${defs}) join ${t.sql} t on ${match}`,
    [`[${keys.join(',')}]`],
  );
  return new Map(q.rows.map((x) => [x.k, { hash: x.h, xmin: x.x }]));
}

/** Rewrites these rows as they are, in a captured transaction: a new change with a new version. Returns the keys found. */
export async function rewriteRows(db: Queryable, t: VerifyTable, column: string, keys: string[]): Promise<string[]> {
  const defs = t.keyCols.map((k, i) => `${quoteIdent(k)} ${t.keyTypes[i]}`).join(', ');
  const match = t.keyCols.map((k) => `t.${quoteIdent(k)} = x.${quoteIdent(k)}`).join(' and ');
  const q = await db.query<{ k: string }>(
    `update ${t.sql} t set ${quoteIdent(column)} = t.${quoteIdent(column)} from json_to_recordset($1::json) as x(${defs}) where ${match} returning ${keyText(t)} as k`,
    [`[${keys.join(',')}]`],
  );
  return q.rows.map((x) => x.k);
}

/** Deletes these rows in a captured transaction (a tombstone with a new version). Returns the keys deleted. */
export async function deleteRowsByKey(db: Queryable, t: VerifyTable, keys: string[]): Promise<string[]> {
  const defs = t.keyCols.map((k, i) => `${quoteIdent(k)} ${t.keyTypes[i]}`).join(', ');
  const match = t.keyCols.map((k) => `t.${quoteIdent(k)} = x.${quoteIdent(k)}`).join(' and ');
  const q = await db.query<{ k: string }>(`delete from ${t.sql} t using json_to_recordset($1::json) as x(${defs}) where ${match} returning ${keyText(t)} as k`, [`[${keys.join(',')}]`]);
  return q.rows.map((x) => x.k);
}

/** A column an UPDATE may set to itself (not generated, not an identity column that refuses it). */
export async function rewritableColumn(db: Queryable, t: VerifyTable): Promise<string> {
  const r = await db.query<{ name: string }>(
    `select attname as name from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped and attgenerated = '' and attidentity <> 'a' order by attnum limit 1`,
    [t.oid],
  );
  if (!r.rows.length) throw new FerryError(`table ${t.name} has no column an UPDATE can set: its rows cannot be re-sent`);
  return r.rows[0].name;
}
