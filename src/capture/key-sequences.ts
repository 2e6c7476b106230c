import type { Queryable } from '../common/db';

/** A key column filled from a sequence whose numbers another DC also hands out. */
export interface SharedKeySequence {
  column: string;
  sequence: string;
  increment: number;
  start: number;
}

/**
 * The key columns of a tracked table that take their values from a sequence (identity or serial)
 * set up as every new database sets it up: step 1 over the type's whole range. Every DC that
 * writes the table then hands out 1, 2, 3…, and two DCs inserting at once write the same key
 * (the versions decide, and one of the two rows is lost). A step of at least the number of DCs, or
 * a range of its own (minvalue/maxvalue) in each DC, keeps them apart; Ferry cannot see the other
 * DCs' sequences from here, so a sequence set up either way is taken as done on purpose.
 */
export async function sharedKeySequences(db: Queryable, table: string, dcs: number): Promise<SharedKeySequence[]> {
  const r = await db.query<{ column: string; sequence: string; increment: string; start: string; min: string; max: string; typmax: string }>(
    `select a.attname as column, s.seq::regclass::text as sequence, q.seqincrement::text as increment, q.seqstart::text as start,
            q.seqmin::text as min, q.seqmax::text as max,
            case q.seqtypid when 'int2'::regtype then '32767' when 'int4'::regtype then '2147483647' else '9223372036854775807' end as typmax
       from ferry.tracked t
       join pg_attribute a on a.attrelid = t.tbl and a.attname = any(t.key_cols)
       cross join lateral (select pg_get_serial_sequence(format('%I.%I', t.schema_name, t.table_name), a.attname)::regclass as seq) s
       join pg_sequence q on q.seqrelid = s.seq
      where t.tbl = $1::regclass`,
    [table],
  );
  return r.rows
    .filter((x) => Math.abs(Number(x.increment)) < dcs && (Number(x.increment) > 0 ? x.min === '1' && x.max === x.typmax : x.max === '-1'))
    .map((x) => ({ column: x.column, sequence: x.sequence, increment: Number(x.increment), start: Number(x.start) }));
}

/** The warning `ferry track` prints for one such column: what goes wrong and the two fixes. */
export function sharedKeyWarning(table: string, s: SharedKeySequence, dcs: number): string {
  return (
    `warning: ${table}.${s.column} takes its values from ${s.sequence} (start ${s.start}, step ${s.increment}), as it would in every DC: ` +
    `two DCs that insert at once hand out the same keys, and only one of the two rows survives. ` +
    `Give each DC its own numbers: a step of ${dcs} or more with a different start per DC ` +
    `(ALTER SEQUENCE ${s.sequence} INCREMENT BY ${dcs} RESTART WITH <n>, n past every key in use and a different n mod ${dcs} in each DC), ` +
    `or a range per DC (ALTER SEQUENCE ${s.sequence} MINVALUE <low> MAXVALUE <high> RESTART WITH <low>). See README, "Keys written in several DCs".`
  );
}
