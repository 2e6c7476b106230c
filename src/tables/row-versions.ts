import type { Queryable } from '../common/db';

/**
 * ferry.row_versions: versions of rows that may still meet a concurrent change (DESIGN.md §6).
 * An entry is purged once every peer has applied past it: nothing concurrent with it can still
 * arrive, and a row without an entry is older than anything to come.
 */

/**
 * What every peer has applied, by origin: for origin o, the smallest position of o that each
 * other peer (and o itself needs none) reported as applied in its last batch applied here.
 * Infinity where no other peer exists (with two DCs, the peer's own later changes follow in order).
 */
export function stableThresholds(self: string, peers: string[], vectors: Record<string, Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of [self, ...peers]) {
    let min = Infinity;
    for (const b of peers) if (b !== o) min = Math.min(min, vectors[b]?.[o] ?? 0);
    out[o] = min;
  }
  return out;
}

/** The snapshot of the last published tick of ours that every peer has applied, if any. */
export async function stableSnapshot(db: Queryable, upTo: number): Promise<string | null> {
  if (upTo === Infinity) return (await db.query<{ s: string | null }>('select snap::text as s from ferry.ticks where published_at is not null order by tick desc limit 1')).rows[0]?.s ?? null;
  const r = await db.query<{ s: string }>(
    'select snap::text as s from ferry.ticks where published_at is not null and first_pos + cnt - 1 <= $1 order by tick desc limit 1',
    [upTo],
  );
  return r.rows[0]?.s ?? null;
}

/**
 * Deletes the entries every peer has applied past; returns how many. An entry an applier holds
 * locked (it is rewriting that key's version right now) is left for the next round: the purge never
 * waits for an applier, so the two can never deadlock (they did under load, each holding entries the
 * other wanted, and the forwarder lost its turn while the applier redid its group).
 */
export async function purgeVersions(db: Queryable, self: string, thresholds: Record<string, number>, stable: string | null): Promise<number> {
  const finite = Object.entries(thresholds).filter(([o]) => o !== self);
  const r = await db.query(
    `delete from ferry.row_versions
      where ctid = any(array(
              select v.ctid from ferry.row_versions v
               where (v.origin = $1 and $2::pg_snapshot is not null and pg_visible_in_snapshot(v.xid, $2::pg_snapshot))
                  or (v.origin <> $1 and v.pos <= (select x.p from unnest($3::text[], $4::float8[]) as x(o, p) where x.o = v.origin))
                 for update skip locked))`,
    [self, stable, finite.map(([o]) => o), finite.map(([, p]) => p)],
  );
  return r.rowCount ?? 0;
}

/** Conflicts are kept `days` days (0: for ever). */
export async function forgetOldConflicts(db: Queryable, days: number): Promise<number> {
  if (!days) return 0;
  const r = await db.query(`delete from ferry.conflicts where resolved_at < now() - make_interval(secs => $1)`, [days * 86400]);
  return r.rowCount ?? 0;
}

/** A row's version as a DC knows it (see apply/local-state.ts), for `ferry bootstrap` to copy. */
export interface KnownVersion {
  key: string;
  ms: string;
  origin: string;
  seq: string;
  deleted: boolean;
  pos: string | null;
}

/**
 * Every version this DC would find for a row of the table (or a tombstone), exactly as the applier
 * finds them (apply/local-state.ts): the entry of ferry.row_versions when the row's xmin is its
 * writer, else the local change that wrote the row (its xmin's change in ferry.changes), else a
 * tombstone of a row that is gone. Read in the copy's snapshot, they go with the copied rows, so a
 * change concurrent with the copy is decided at the new DC as it is here.
 */
export async function knownVersions(db: Queryable, t: { oid: number; sql: string; keyCols: string[] }, self: string): Promise<KnownVersion[]> {
  const q = (s: string) => '"' + s.replace(/"/g, '""') + '"';
  const match = (r: string) => t.keyCols.map((k) => `t.${q(k)} = ${r}.${q(k)}`).join(' and ');
  const r = await db.query<KnownVersion>(
    `select v.key, v.ms::text as ms, v.origin, v.seq::text as seq, v.deleted, v.pos::text as pos
       from ferry.row_versions v
       left join lateral (select t.xmin::text as xmin from ${t.sql} t, json_populate_record(null::${t.sql}, v.key::json) r where ${match('r')} limit 1) l on true
      where v.tbl = $1 and ((v.deleted and l.xmin is null) or (not v.deleted and (v.xid::text::bigint & 4294967295)::text = l.xmin))
     union all
     select * from (
       select distinct on (k.key) k.key, coalesce(c.hlc, 0)::text, $2::text, c.id::text, false, null::text
         from ferry.changes c
        cross join lateral (select '{' || string_agg(to_json(kc)::text || ': ' || (c.row -> kc)::text, ', ' order by o) || '}' as key
                              from unnest($3::text[]) with ordinality u(kc, o)) k
         join lateral (select t.xmin from ${t.sql} t, json_populate_record(null::${t.sql}, c.row) r where ${match('r')} limit 1) l on true
        where c.tbl = $1 and c.op in ('I', 'U') and c.xid = ferry.xid8_of(l.xmin)
          and not exists (select 1 from ferry.row_versions v where v.tbl = $1 and v.key = k.key and not v.deleted
                                                              and (v.xid::text::bigint & 4294967295)::text = l.xmin::text)
        order by k.key, c.id desc) w`,
    [t.oid, self, t.keyCols],
  );
  return r.rows;
}

/**
 * Inside the destination transaction that copied the rows: their versions, with this transaction's
 * xid (the copied rows' xmin, which is how the applier tells them from a later local write).
 */
export async function writeCopiedVersions(db: Queryable, tbl: number, vs: KnownVersion[]): Promise<void> {
  for (let i = 0; i < vs.length; i += 10_000) {
    const part = vs.slice(i, i + 10_000);
    await db.query(
      `insert into ferry.row_versions (tbl, key, ms, origin, seq, deleted, xid, pos)
       select $1, k, ms, o, seq, del, pg_current_xact_id(), pos from unnest($2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bool[], $7::bigint[]) as x(k, ms, o, seq, del, pos)`,
      [tbl, part.map((v) => v.key), part.map((v) => v.ms), part.map((v) => v.origin), part.map((v) => v.seq), part.map((v) => v.deleted), part.map((v) => v.pos)],
    );
  }
}

/** Copied versions of the source's own changes get the position their changes are at or below. */
export async function placeCopiedVersions(db: Queryable, origin: string, pos: number): Promise<void> {
  await db.query('update ferry.row_versions set pos = $2 where origin = $1 and pos is null', [origin, pos]);
}

/** The tombstones of these keys (null: of every key) as version text, for `ferry verify` to notice a delete that came in between. */
export async function tombstones(db: Queryable, tbl: number, keys: string[] | null): Promise<Map<string, string>> {
  const r = await db.query<{ key: string; v: string }>(
    `select key, ms || '.' || seq || '@' || origin as v from ferry.row_versions where tbl = $1 and ($2::text[] is null or key = any($2::text[])) and deleted`,
    [tbl, keys],
  );
  return new Map(r.rows.map((x) => [x.key, x.v]));
}
