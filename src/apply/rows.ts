import { SchemaMismatch } from '../common/errors';
import type { Change } from '../protocol/envelope';
import { memberNames, replaceMembers } from '../protocol/json-scan';
import { quoteIdent } from '../common/db';
import type { TableInfo } from './table-info';

/**
 * Turning changes into the parameters of set-based statements: the rows go to PostgreSQL as one
 * JSON array (their text as it came), read back by json_to_recordset with this DC's column types,
 * so PostgreSQL's own input functions make the typed values.
 */

/** The columns of the key, from the key's own text. */
export function keyColumns(t: TableInfo, origin: string, c: Change): string[] {
  const cols = memberNames(c.key!);
  const missing = cols.filter((k) => !t.columns.has(k));
  if (missing.length) {
    throw new SchemaMismatch(
      `schema mismatch: key column(s) ${missing.join(', ')} of ${t.wireName} are not at this DC: make the same change to the table here as at ${origin} (docs/operations.md); the stream continues by itself once it matches`,
      { origin, pos: c.pos },
    );
  }
  const same = (u: string[]) => u.length === cols.length && u.every((x) => cols.includes(x));
  if (!t.uniqueKeys.some((u) => same(u.cols))) {
    throw new SchemaMismatch(`${t.wireName} has no primary key or unique index on (${cols.join(', ')}) at this DC; Ferry needs one to apply changes idempotently: add it (the stream continues by itself)`, { origin, pos: c.pos });
  }
  return cols;
}

/** The unique index that matches the key (to tell a key conflict from another unique conflict). */
export function keyIndex(t: TableInfo, keys: string[]): string | undefined {
  return t.uniqueKeys.find((u) => u.cols.length === keys.length && u.cols.every((x) => keys.includes(x)))?.index;
}

/** The columns a row image carries, checked against this DC's table; generated ones are left out. */
export function writableColumns(t: TableInfo, origin: string, c: Change): string[] {
  const cols = memberNames(c.row!);
  const unknown = cols.filter((k) => !t.columns.has(k));
  if (unknown.length) {
    throw new SchemaMismatch(
      `schema mismatch: column(s) ${unknown.join(', ')} of ${t.wireName} are not at this DC: add them here (or do the rename done at ${origin}; docs/operations.md); the stream continues by itself once they are here`,
      { origin, pos: c.pos },
    );
  }
  return cols.filter((k) => !t.generated.has(k));
}

const coldefs = (t: TableInfo, cols: string[], asText: Set<string>) => cols.map((c) => `${quoteIdent(c)} ${asText.has(c) ? 'text' : t.types.get(c)}`).join(', ');

/** `json_to_recordset($n::json) as alias(col type, …)`, for FROM: only these columns are read. */
export function recordset(t: TableInfo, cols: string[], param: string, alias: string, asText: Set<string> = new Set()): string {
  return `json_to_recordset(${param}::json) as ${alias}(${coldefs(t, cols, asText)})`;
}

/** `json_to_recordset($n::json) as (col type, …)`, for ROWS FROM (…) beside other functions. */
/**
 * A name for one of the applier's own columns beside a table's columns in a recordset (x.<name>):
 * `base`, or base_2, base_3… when the table has a column of that name. Quoted.
 */
export function own(t: TableInfo, base: string): string {
  let name = base;
  for (let i = 2; t.columns.has(name); i++) name = `${base}_${i}`;
  return quoteIdent(name);
}

export function recordsetFn(t: TableInfo, cols: string[], param: string, asText: Set<string> = new Set()): string {
  return `json_to_recordset(${param}::json) as (${coldefs(t, cols, asText)})`;
}

/** The value expression for column k of recordset alias x (json columns read as exact text). */
export const valueOf = (t: TableInfo, asText: Set<string>, k: string, x = 'x') => (asText.has(k) ? `${x}.${quoteIdent(k)}::${t.types.get(k)}` : `${x}.${quoteIdent(k)}`);

/** The columns of this row whose exact text came beside its image (and that this statement writes). */
export function exactTextColumns(c: Change, cols: string[]): string[] {
  return c.jsonText ? Object.keys(c.jsonText).filter((k) => cols.includes(k)).sort() : [];
}

/**
 * The rows as one JSON array text, as they came. Columns in `asText` (every row given here has the
 * exact text of each: see exactTextColumns) become that text, a JSON string the statement casts to
 * the column's type; the rest of each image is not even parsed.
 */
export function rowsParam(changes: Change[], asText: Set<string>): string {
  if (!asText.size) return `[${changes.map((c) => c.row).join(',')}]`;
  return `[${changes
    .map((c) => {
      const exact: Record<string, string> = {};
      for (const k of asText) exact[k] = c.jsonText?.[k] === undefined ? 'null' : JSON.stringify(c.jsonText[k]);
      return replaceMembers(c.row!, exact);
    })
    .join(',')}]`;
}

export const keysParam = (keys: string[]) => `[${keys.join(',')}]`;

/** `t.a = x.a and t.b = x.b` */
export const keyMatch = (keys: string[], t = 't', x = 'x') => keys.map((k) => `${t}.${quoteIdent(k)} = ${x}.${quoteIdent(k)}`).join(' and ');
