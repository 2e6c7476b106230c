import type { Queryable } from '../common/db';
import { quoteIdent } from '../common/db';
import { FerryError } from '../common/errors';
import { parentsFirst } from '../apply/fk-order';
import { trackedTables } from '../tables/tracked';

/** PostgreSQL's first OID for objects users create: types below it are built in, the same in every database. */
const FIRST_USER_OID = 16384;

export interface SourceTable {
  /** format('%I.%I'): the name on the wire, the same in every DC. */
  name: string;
  oid: number;
  sql: string;
  keyCols: string[];
  keySource: 'primary key' | 'explicit';
  counters: string[];
  /** Columns COPY moves (generated ones are computed again at the destination), with their types. */
  columns: { name: string; type: string }[];
  /** Every column type is built in: COPY can use the binary format (a user type's OID differs between databases). */
  binary: boolean;
  /** Tracked tables this one references with a foreign key. */
  parents: string[];
}

/** The tracked tables of the source, described from its catalog. */
export async function sourceTables(db: Queryable): Promise<SourceTable[]> {
  const tracked = (await trackedTables(db)).filter((t) => t.active);
  const extra = await db.query<{ oid: number; key_source: 'primary key' | 'explicit'; counters: string[] }>('select tbl::oid as oid, key_source, counters from ferry.tracked where active');
  const byOid = new Map(extra.rows.map((x) => [Number(x.oid), x]));
  const names = new Map(tracked.map((t) => [t.oid, t.name]));
  const out: SourceTable[] = [];
  for (const t of tracked) {
    const cols = await db.query<{ name: string; type: string; typid: number }>(
      `select attname as name, format_type(atttypid, atttypmod) as type, atttypid::int as typid
         from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped and attgenerated = '' order by attnum`,
      [t.oid],
    );
    const fks = await db.query<{ parent: number }>(`select distinct confrelid::int as parent from pg_constraint where conrelid = $1 and contype = 'f'`, [t.oid]);
    out.push({
      name: t.name,
      oid: t.oid,
      sql: `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`,
      keyCols: t.keyCols,
      keySource: byOid.get(t.oid)!.key_source,
      counters: byOid.get(t.oid)!.counters,
      columns: cols.rows.map((c) => ({ name: c.name, type: c.type })),
      binary: cols.rows.every((c) => c.typid < FIRST_USER_OID),
      parents: fks.rows.flatMap((f) => (f.parent !== t.oid && names.has(f.parent) ? [names.get(f.parent)!] : [])),
    });
  }
  return out;
}

/**
 * Tables linked by foreign keys are copied together, in one snapshot and one destination
 * transaction (parents first): copied in different snapshots after a rerun, a child could
 * reference a parent row its parent's copy does not hold. Unlinked tables go one by one.
 */
export function copyGroups(tables: SourceTable[]): SourceTable[][] {
  const parent = new Map(tables.map((t) => [t.name, t.name]));
  const find = (x: string): string => (parent.get(x) === x ? x : find(parent.get(x)!));
  for (const t of tables) for (const p of t.parents) parent.set(find(t.name), find(p));
  const groups = new Map<string, SourceTable[]>();
  for (const t of tables) groups.set(find(t.name), [...(groups.get(find(t.name)) ?? []), t]);
  const byName = new Map(tables.map((t) => [t.name, t]));
  return [...groups.values()].map((g) => {
    // a cycle of references keeps its order: the copy defers what constraints it can
    const order = parentsFirst(g.map((t) => t.name), (n) => byName.get(n)!.parents) ?? g.map((t) => t.name);
    return order.map((n) => byName.get(n)!);
  });
}

/**
 * The destination must have each table with the same columns and types (it may have more), tracked
 * the same way; a table not tracked there yet is tracked now, as at the source. Returns its oids.
 */
export async function prepareDestination(db: Queryable, tables: SourceTable[], source: string, say: (s: string) => void): Promise<Map<string, number>> {
  const oids = new Map<string, number>();
  for (const t of tables) {
    const r = await db.query<{ oid: number | null }>('select to_regclass($1)::oid as oid', [t.name]);
    const oid = r.rows[0].oid;
    if (oid === null) throw new FerryError(`table ${t.name} does not exist in this DC: create it as it is in ${source} (same columns and key, no rows), then run \`ferry bootstrap\` again`);
    const cols = await db.query<{ name: string; type: string }>(
      `select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped and attgenerated = ''`,
      [oid],
    );
    const here = new Map(cols.rows.map((c) => [c.name, c.type]));
    const wrong = t.columns
      .filter((c) => here.get(c.name) !== c.type)
      .map((c) => (here.has(c.name) ? `${c.name} is ${here.get(c.name)} here but ${c.type} in ${source}` : `${c.name} (${c.type}) is missing here`));
    if (wrong.length) throw new FerryError(`table ${t.name} differs from ${source}'s: ${wrong.join('; ')}. Make it the same, then run \`ferry bootstrap\` again`);
    const tr = await db.query<{ key_cols: string[]; counters: string[]; active: boolean }>('select key_cols, counters, active from ferry.tracked where tbl = $1', [oid]);
    const mine = tr.rows[0];
    if (!mine || !mine.active) {
      await db.query('select ferry.track($1::regclass, $2::text[], $3::text[])', [t.name, t.keySource === 'explicit' ? t.keyCols : null, t.counters.length ? t.counters : null]);
      say(`tracking ${t.name} here, as in ${source}`);
    } else if (mine.key_cols.join(',') !== t.keyCols.join(',') || [...mine.counters].sort().join(',') !== [...t.counters].sort().join(',')) {
      throw new FerryError(
        `table ${t.name} is tracked differently here (key ${mine.key_cols.join(',')}, counters ${mine.counters.join(',') || 'none'}) than in ${source} (key ${t.keyCols.join(',')}, counters ${t.counters.join(',') || 'none'}): track it the same way (\`ferry track\`) in every DC`,
      );
    }
    oids.set(t.name, Number(oid));
  }
  return oids;
}

/** Tables of these that already hold rows here (a bootstrap fills empty tables only). */
export async function nonEmpty(db: Queryable, tables: SourceTable[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of tables) if ((await db.query(`select 1 from ${t.sql} limit 1`)).rows.length) out.push(t.name);
  return out;
}
