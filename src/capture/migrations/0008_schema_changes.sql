-- Application DDL on tracked tables (docs/operations.md). The capture function reads the row only
-- through row_to_json(NEW/OLD) and names columns as data, so a rename, an added or a dropped column
-- never breaks a write; the key and counter columns are also known by their attribute numbers, which
-- a rename keeps, so their names can be found again until the function is made anew.
alter table ferry.tracked add column key_attnums int2[];
alter table ferry.tracked add column counter_attnums int2[] not null default '{}';
-- The columns (attnum, name, type) the capture function was made for: the ticker makes it anew when
-- the table's differ (ferry.refresh_tracked).
alter table ferry.tracked add column shape text;

update ferry.tracked t
   set key_attnums = (select array_agg(a.attnum order by k.o) from unnest(t.key_cols) with ordinality k(n, o)
                        join pg_attribute a on a.attrelid = t.tbl and a.attname = k.n),
       counter_attnums = coalesce((select array_agg(a.attnum order by k.o) from unnest(t.counters) with ordinality k(n, o)
                                     join pg_attribute a on a.attrelid = t.tbl and a.attname = k.n), '{}');

-- Every name a column of a table Ferry captures or applies to has had, by attribute number: a change
-- made before a rename names the column as it was, and is read by that name here (the forwarder's
-- key, the applier's columns) once the same rename is done in this DC.
create table ferry.column_names (
  tbl oid not null,
  attnum int2 not null,
  name text not null,
  seen_at timestamptz not null default now(),
  primary key (tbl, attnum, name)
);
insert into ferry.column_names (tbl, attnum, name)
select a.attrelid, a.attnum, a.attname from ferry.tracked t join pg_attribute a on a.attrelid = t.tbl
 where a.attnum > 0 and not a.attisdropped
on conflict do nothing;
