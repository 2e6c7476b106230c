import type { Queryable } from '../common/db';
import { quoteIdent } from '../common/db';
import { SchemaMismatch, StreamError } from '../common/errors';

export interface TableInfo {
  wireName: string;
  oid: number;
  /** Safe SQL name built from the catalog (never from the wire text). */
  sql: string;
  columns: Set<string>;
  /** Each column's type as SQL (format_type), to read wire values as exactly that type. */
  types: Map<string, string>;
  /** Columns PostgreSQL computes itself: never written. */
  generated: Set<string>;
  /** GENERATED ALWAYS AS IDENTITY columns: inserted with OVERRIDING SYSTEM VALUE, never updated. */
  identityAlways: Set<string>;
  /** Column sets that have a unique index (ON CONFLICT needs one matching the key), with the index name. */
  uniqueKeys: { cols: string[]; index: string }[];
  /** Tables this one references with a foreign key checked at once (not deferred): its parents. */
  parents: number[];
  /** Counter columns, as this DC tracks the table (`ferry track --counter`). */
  counters: string[];
  /** A partitioned table: TRUNCATE reaches its partitions (ONLY is refused for it). */
  partitioned: boolean;
  /** Names columns here had before a rename (old → now): changes made before the rename use them. */
  renamed: Map<string, string>;
  /** Names of columns dropped here: changes made where they still exist carry them, and they are left out. */
  dropped: Set<string>;
}

/** A partition of a tracked table at this DC, named by a TRUNCATE of that partition alone. */
export interface PartitionInfo {
  sql: string;
  partitioned: boolean;
}

/**
 * Resolves a table named on the wire to this DC's table. The name is resolved by PostgreSQL
 * (to_regclass); the SQL Ferry writes uses the catalog's own names, quoted.
 */
export class TableCatalog {
  private cache = new Map<string, TableInfo>();
  private byOid = new Map<number, TableInfo>();
  constructor(
    private readonly db: Queryable,
    private readonly origin: string,
  ) {}

  invalidate(): void {
    this.cache.clear();
    this.byOid.clear();
  }

  /** A table already resolved, by oid (to name the parents of a table among those of a group). */
  known(oid: number): TableInfo | undefined {
    return this.byOid.get(oid);
  }

  async get(wireName: string, where: { tick?: number; pos?: number }): Promise<TableInfo> {
    const hit = this.cache.get(wireName);
    if (hit) return hit;
    const r = await this.db.query<{ oid: number | null; nsp: string; rel: string; kind: string; tracked: boolean }>(
      `select c.oid, n.nspname as nsp, c.relname as rel, c.relkind as kind, exists (select 1 from ferry.tracked t where t.tbl = c.oid) as tracked
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.oid = to_regclass($1)`,
      [wireName],
    );
    if (!r.rows.length) {
      throw new SchemaMismatch(`table ${wireName} does not exist at this DC: create it here (same columns and key as at ${this.origin}) and run \`ferry track ${wireName}\` here; the stream continues by itself once it is tracked`, { origin: this.origin, ...where });
    }
    const { oid, nsp, rel, kind, tracked: agreed } = r.rows[0];
    // a DC takes changes only for the tables it tracks itself: whoever can write to the topic or
    // queue cannot reach any other table, nor Ferry's own
    if (nsp === 'ferry') {
      throw new StreamError(`a change names Ferry's own table ${wireName}, which is never written from the wire: the frame does not come from a Ferry forwarder; find who writes to this origin's topic or queue, then \`ferry skip --origin ${this.origin}\` the position`, { origin: this.origin, ...where });
    }
    if (!agreed || (kind !== 'r' && kind !== 'p')) {
      throw new SchemaMismatch(`table ${wireName} is not tracked at this DC, and a DC applies only the tables it tracks: if it should be kept in sync here, run \`ferry track ${wireName}\` at this DC; the stream continues by itself once it is tracked`, { origin: this.origin, ...where });
    }
    const cols = await this.db.query<{ attname: string; gen: string; ident: string; type: string }>(
      `select attname, attgenerated as gen, attidentity as ident, format_type(atttypid, atttypmod) as type
         from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped`,
      [oid],
    );
    const uniq = await this.db.query<{ cols: string[]; index: string }>(
      `select array_agg(a.attname::text order by k.ord) as cols, (select relname from pg_class where oid = i.indexrelid)::text as index
         from pg_index i cross join lateral unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
         join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        where i.indrelid = $1 and i.indisunique and i.indpred is null and i.indexprs is null
        group by i.indexrelid`,
      [oid],
    );
    const fks = await this.db.query<{ parent: number }>(`select distinct confrelid::int as parent from pg_constraint where conrelid = $1 and contype = 'f' and not condeferred`, [oid]);
    const tracked = await this.db.query<{ counters: string[] }>(`select counters from ferry.tracked where tbl = $1`, [oid]);
    // the names of the columns now, kept beside those they had: a later rename here is then known
    await this.db.query('select ferry.note_column_names($1::oid::regclass)', [oid]);
    const renamed = await this.db.query<{ old: string; now: string | null }>(
      `select c.name as old, case when not a.attisdropped then a.attname::text end as now from ferry.column_names c
         join pg_attribute a on a.attrelid = c.tbl and a.attnum = c.attnum
        where c.tbl = $1 and (a.attisdropped or c.name <> a.attname)`,
      [oid],
    );
    const columns = new Set(cols.rows.map((c) => c.attname));
    const info: TableInfo = {
      wireName,
      oid: Number(oid),
      sql: `${quoteIdent(nsp)}.${quoteIdent(rel)}`,
      columns,
      types: new Map(cols.rows.map((c) => [c.attname, c.type])),
      generated: new Set(cols.rows.filter((c) => c.gen !== '').map((c) => c.attname)),
      identityAlways: new Set(cols.rows.filter((c) => c.ident === 'a').map((c) => c.attname)),
      uniqueKeys: uniq.rows.map((u) => ({ cols: u.cols, index: u.index })),
      parents: fks.rows.map((f) => Number(f.parent)),
      counters: tracked.rows[0]?.counters ?? [],
      partitioned: kind === 'p',
      // an old name a column here has now is that column's
      renamed: new Map(renamed.rows.filter((x) => x.now !== null && !columns.has(x.old)).map((x) => [x.old, x.now!])),
      dropped: new Set(renamed.rows.filter((x) => x.now === null && !columns.has(x.old)).map((x) => x.old)),
    };
    this.cache.set(wireName, info);
    this.byOid.set(info.oid, info);
    return info;
  }

  /** The partition `name` of table `t`, as a TRUNCATE of that one partition names it. */
  async partition(t: TableInfo, name: string, where: { tick?: number; pos?: number }): Promise<PartitionInfo> {
    const r = await this.db.query<{ nsp: string; rel: string; kind: string }>(
      `select n.nspname as nsp, c.relname as rel, c.relkind as kind from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.oid = to_regclass($1) and c.relispartition and $2::oid in (select relid from pg_partition_ancestors(c.oid))`,
      [name, t.oid],
    );
    if (!r.rows.length) {
      throw new StreamError(
        `TRUNCATE of partition ${name} of ${t.wireName}: this DC has no such partition of ${t.wireName}; give every DC the same partitions (create or attach it here), then \`ferry resume --origin ${this.origin}\``,
        { origin: this.origin, ...where },
      );
    }
    const x = r.rows[0];
    return { sql: `${quoteIdent(x.nsp)}.${quoteIdent(x.rel)}`, partitioned: x.kind === 'p' };
  }
}
