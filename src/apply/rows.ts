import { StreamError } from '../common/errors';
import type { Change } from '../protocol/envelope';
import { memberNames } from '../protocol/json-scan';
import { parseExact, stringifyExact } from '../protocol/json';
import { quoteIdent } from '../common/db';
import type { TableInfo } from './table-info';

/**
 * Turning changes into the parameters of set-based statements: the rows go to PostgreSQL as one
 * JSON array (their text as it came), read back by jsonb_to_recordset with this DC's column types,
 * so PostgreSQL's own input functions make the typed values.
 */

/** The columns of the key, from the key's own text. */
export function keyColumns(t: TableInfo, origin: string, c: Change): string[] {
  const cols = memberNames(c.key!);
  const missing = cols.filter((k) => !t.columns.has(k));
  if (missing.length) throw new StreamError(`schema mismatch: key column(s) ${missing.join(', ')} of ${t.wireName} are not at this DC`, { origin, pos: c.pos });
  const same = (u: string[]) => u.length === cols.length && u.every((x) => cols.includes(x));
  if (!t.uniqueKeys.some((u) => same(u.cols))) {
    throw new StreamError(`${t.wireName} has no primary key or unique index on (${cols.join(', ')}) at this DC; Ferry needs one to apply changes idempotently`, { origin, pos: c.pos });
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
    throw new StreamError(`schema mismatch: column(s) ${unknown.join(', ')} of ${t.wireName} are not at this DC (add them, then \`ferry resume --origin ${origin}\`)`, { origin, pos: c.pos });
  }
  return cols.filter((k) => !t.generated.has(k));
}

const coldefs = (t: TableInfo, cols: string[], asText: Set<string>) => cols.map((c) => `${quoteIdent(c)} ${asText.has(c) ? 'text' : t.types.get(c)}`).join(', ');

/** `jsonb_to_recordset($n::jsonb) as alias(col type, …)`, for FROM: only these columns are read. */
export function recordset(t: TableInfo, cols: string[], param: string, alias: string, asText: Set<string> = new Set()): string {
  return `jsonb_to_recordset(${param}::jsonb) as ${alias}(${coldefs(t, cols, asText)})`;
}

/** `jsonb_to_recordset($n::jsonb) as (col type, …)`, for ROWS FROM (…) beside other functions. */
export function recordsetFn(t: TableInfo, cols: string[], param: string, asText: Set<string> = new Set()): string {
  return `jsonb_to_recordset(${param}::jsonb) as (${coldefs(t, cols, asText)})`;
}

/** The value expression for column k of recordset alias x (json columns read as exact text). */
export const valueOf = (t: TableInfo, asText: Set<string>, k: string, x = 'x') => (asText.has(k) ? `${x}.${quoteIdent(k)}::${t.types.get(k)}` : `${x}.${quoteIdent(k)}`);

/** The json/jsonb columns whose exact text came beside the image of any of these changes. */
export function jsonTextColumns(t: TableInfo, cols: string[], changes: Change[]): Set<string> {
  const asText = new Set<string>();
  for (const c of changes) for (const k of Object.keys(c.jsonText ?? {})) if (cols.includes(k) && t.types.has(k)) asText.add(k);
  return asText;
}

/**
 * The rows as one JSON array text. Columns in `asText` become their exact text: from the change's
 * jsonText where it has one (a json column as written, a jsonb JSON null), else the image's value
 * written out as JSON (SQL NULL stays NULL). Only then is a row parsed at all.
 */
export function rowsParam(changes: Change[], asText: Set<string>): string {
  if (!asText.size) return `[${changes.map((c) => c.row).join(',')}]`;
  return `[${changes
    .map((c) => {
      const row = parseExact(c.row!) as Record<string, unknown>;
      for (const k of asText) {
        const exact = c.jsonText?.[k];
        row[k] = exact !== undefined ? exact : row[k] === null || row[k] === undefined ? null : stringifyExact(row[k]);
      }
      return stringifyExact(row);
    })
    .join(',')}]`;
}

export const keysParam = (keys: string[]) => `[${keys.join(',')}]`;

/** `t.a = x.a and t.b = x.b` */
export const keyMatch = (keys: string[], t = 't', x = 'x') => keys.map((k) => `${t}.${quoteIdent(k)} = ${x}.${quoteIdent(k)}`).join(' and ');
