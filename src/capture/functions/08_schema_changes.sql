-- Application DDL on tracked tables (docs/operations.md). A capture function is made for the
-- columns a table had then; it keeps working after a rename, an added or a dropped column (it reads
-- the row through its images), and the ticker makes it anew once the columns differ, so a new json
-- or array column gets its exact text and the key is read by its new name again.

-- The columns as the capture function sees them: attribute number, name and type of each.
create or replace function ferry.table_shape(p_tbl regclass) returns text
language sql stable as $$
  select md5(coalesce(string_agg(a.attnum || ':' || a.attname || ':' || format_type(a.atttypid, a.atttypmod), ',' order by a.attnum), ''))
    from pg_attribute a
   where a.attrelid = p_tbl and a.attnum > 0 and not a.attisdropped
$$;

-- The names the key and counter columns have now, found by attribute number (a rename keeps it).
-- A counter column dropped since is null. A key column dropped leaves the rows with no identity.
create or replace function ferry.capture_names(p_tbl regclass, out keys text[], out counters text[])
language plpgsql stable as $$
declare
  t ferry.tracked;
begin
  select * into t from ferry.tracked where tbl = p_tbl;
  select array_agg(a.attname::text order by k.o) into keys
    from unnest(t.key_attnums) with ordinality k(n, o)
    join pg_attribute a on a.attrelid = p_tbl and a.attnum = k.n and not a.attisdropped;
  if coalesce(cardinality(keys), 0) <> coalesce(cardinality(t.key_attnums), -1) then
    raise exception 'ferry: a key column of % (%) is gone, so its rows can no longer be named at the other DCs', p_tbl, array_to_string(t.key_cols, ', ')
      using hint = 'Give the table a key again (a primary key, or ferry track --key col,...), then run ferry track for it (docs/operations.md).';
  end if;
  select coalesce(array_agg(a.attname::text order by k.o), '{}') into counters
    from unnest(t.counter_attnums) with ordinality k(n, o)
    left join pg_attribute a on a.attrelid = p_tbl and a.attnum = k.n and not a.attisdropped;
end $$;

-- Notes every name the columns of a table have now (kept with the names they had before).
create or replace function ferry.note_column_names(p_tbl regclass) returns void
language sql as $$
  insert into ferry.column_names (tbl, attnum, name)
  select a.attrelid, a.attnum, a.attname from pg_attribute a
   where a.attrelid = p_tbl and a.attnum > 0 and not a.attisdropped
  on conflict do nothing
$$;

-- Makes anew the capture function of every tracked table (or of one) whose columns changed since
-- its function was made, with the key and counter columns' names as they are now. The ticker calls
-- it every second; it returns the tables it made anew. A table whose key column is gone is left as
-- it is (its writes say why, ferry.capture_names).
create or replace function ferry.refresh_tracked(p_tbl regclass default null) returns setof text
language plpgsql as $$
declare
  t ferry.tracked;
  v_keys text[];
  v_cols text[];
  v_nums int2[];
begin
  for t in select * from ferry.tracked x
            where x.active and (p_tbl is null or x.tbl = p_tbl) and x.shape is distinct from ferry.table_shape(x.tbl)
            order by x.tbl loop
    -- one at a time: two sessions replacing one function at once would fail
    perform pg_advisory_xact_lock(ferry.lock_class(), 4);
    continue when (select shape from ferry.tracked where tbl = t.tbl) is not distinct from ferry.table_shape(t.tbl);
    perform ferry.note_column_names(t.tbl);
    begin
      select n.keys into v_keys from ferry.capture_names(t.tbl) n;
    exception when raise_exception then
      raise warning '%', sqlerrm;
      continue;
    end;
    select coalesce(array_agg(a.attname::text order by k.o), '{}'), coalesce(array_agg(a.attnum order by k.o), '{}')
      into v_cols, v_nums
      from unnest(t.counter_attnums) with ordinality k(n, o)
      join pg_attribute a on a.attrelid = t.tbl and a.attnum = k.n and not a.attisdropped;
    update ferry.tracked set key_cols = v_keys, counters = v_cols, counter_attnums = v_nums where tbl = t.tbl;
    perform ferry.install_capture(t.tbl);
    return next t.tbl::text;
  end loop;
end $$;
