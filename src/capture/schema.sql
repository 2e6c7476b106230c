CREATE SCHEMA ferry;

CREATE FUNCTION ferry.advance_clock(p_ms bigint) RETURNS bigint
    LANGUAGE plpgsql
    AS $$
declare
  v bigint;
begin
  perform pg_advisory_lock(ferry.lock_class(), 3);
  begin
    v := pg_sequence_last_value('ferry.clock');
    if v < p_ms then
      perform setval('ferry.clock', p_ms);
      v := p_ms;
    end if;
  exception when others then
    perform pg_advisory_unlock(ferry.lock_class(), 3);
    raise;
  end;
  perform pg_advisory_unlock(ferry.lock_class(), 3);
  return v;
end $$;

CREATE FUNCTION ferry.capture_function_name(p_tbl regclass) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ select format('ferry.%I', 'capture_' || p_tbl::oid) $$;

CREATE FUNCTION ferry.capture_names(p_tbl regclass, OUT keys text[], OUT counters text[]) RETURNS record
    LANGUAGE plpgsql STABLE
    AS $$
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

CREATE FUNCTION ferry.capture_settings(p_tbl regclass) RETURNS text
    LANGUAGE sql STABLE
    AS $_$
  select concat_ws(' ',
           case when bool_or(b in ('float4'::regtype, 'float8'::regtype) or c) then 'set extra_float_digits = 3' end,
           case when bool_or(b = 'interval'::regtype or c) then 'set intervalstyle = postgres' end,
           case when bool_or(b = 'money'::regtype or c) then $s$set lc_monetary = 'C'$s$ end)
    from pg_attribute a
    cross join lateral (
      with recursive d(oid, typtype, typbasetype, typelem) as (
        select ty.oid, ty.typtype, ty.typbasetype, ty.typelem from pg_type ty where ty.oid = a.atttypid
        union all
        select ty.oid, ty.typtype, ty.typbasetype, ty.typelem from pg_type ty join d on ty.oid = case when d.typtype = 'd' then d.typbasetype else d.typelem end
         where d.typtype = 'd' or d.typelem <> 0)
      select d.oid::regtype as b, d.typtype = 'c' as c from d) x
   where a.attrelid = p_tbl and a.attnum > 0 and not a.attisdropped
$_$;

CREATE FUNCTION ferry.capture_source(p_tbl regclass) RETURNS text
    LANGUAGE plpgsql STABLE
    AS $_$
declare
  t ferry.tracked;
  st ferry.state;
  v_target text;
  v_jtext text := '';
  v_wall text;
  v_counters text := '';
  v_counters_json text := 'null';
  v_stale text := '';
  v_keyexpr text;
  v_fast text := '';
  v_clock text;
  v_keyset text;
  v_keysame text;
  v_ckey text;
  v_tomb text;
  i int;
begin
  select * into t from ferry.tracked where tbl = p_tbl;
  if not found then
    raise exception 'ferry: table % is not tracked', p_tbl;
  end if;
  select * into st from ferry.state;
  if st.origin is null then
    raise exception 'ferry: this database has no DC id yet: run `ferry init --config FILE` (it records the origin)';
  end if;
  v_target := format('ferry.changes_%s', st.slot);
  -- the key as the wire writes it, {"a": 1, "b": "x"} (src/protocol/json-scan.ts), from a row image
  -- ($img: v_new or v_old); null when a key column's name is not in the image (renamed since)
  select $q$'{' || $q$ || string_agg(format($q$to_json(v_kn[%1$s])::text || ': ' || ($img -> v_kn[%1$s])::text$q$, o), $q$ || ', ' || $q$ order by o) || $q$ || '}'$q$
    into v_keyexpr
    from generate_subscripts(t.key_cols, 1) o;
  -- exact text where the image cannot carry it (a json null, array bounds). The image says whether
  -- the column is there under this name and whether its value may need it; only then is the column
  -- read by name, in a block of its own: a column renamed, dropped or retyped since this function was
  -- made is skipped (its exact text waits for the function made anew), never an error in a write.
  -- The block is entered only for those values and writes nothing (no subtransaction id).
  select coalesce(string_agg(case when b.base in ('json'::regtype, 'jsonb'::regtype)
                                  then format($j$
  if json_typeof(v_new -> %1$L) = 'null' then
    begin
      if NEW.%2$I is not null then
        v_jt := coalesce(v_jt, '{}') || jsonb_build_object(%1$L, 'null');
      end if;
    exception when others then
      null;
    end;
  end if;$j$, a.attname, a.attname)
                                  else format($j$
  if json_typeof(v_new -> %1$L) = 'array' then
    begin
      if NEW.%2$I::text like '[%%' then
        v_jt := coalesce(v_jt, '{}') || jsonb_build_object(%1$L, NEW.%2$I::text);
      end if;
    exception when others then
      null;
    end;
  end if;$j$, a.attname, a.attname) end, '' order by a.attnum), '')
    into v_jtext
    from pg_attribute a
    cross join lateral (
      with recursive d(oid, typtype, typbasetype, typcategory) as (
        select ty.oid, ty.typtype, ty.typbasetype, ty.typcategory from pg_type ty where ty.oid = a.atttypid
        union all
        select ty.oid, ty.typtype, ty.typbasetype, ty.typcategory from pg_type ty join d on ty.oid = d.typbasetype where d.typtype = 'd')
      select d.oid::regtype as base, d.typcategory as cat from d where d.typtype <> 'd') b
   where a.attrelid = p_tbl and a.attnum > 0 and not a.attisdropped
     and (b.base in ('json'::regtype, 'jsonb'::regtype) or b.cat = 'A');
  if v_jtext <> '' then
    v_jtext := E'\n  if TG_OP <> ''DELETE'' then' || replace(v_jtext, E'\n', E'\n  ') || E'\n  end if;';
  end if;
  -- this DC's wall clock in milliseconds (plus the offset a test may inject, read now: a constant)
  -- (float8 arithmetic: cheaper than numeric's, and exact to far below a millisecond)
  v_wall := format('(date_part(''epoch'', clock_timestamp()) * 1000)::bigint%s', case when st.clock_offset_ms <> 0 then format(' + (%s)', st.clock_offset_ms) end);
  -- counter columns: this DC's share moves by the change; the change carries the share (and the
  -- value counting began with, the first time), never a delta, so redelivery cannot add twice
  for i in 1 .. coalesce(cardinality(t.counters), 0) loop
    v_stale := v_stale || format(' or (v_cn[%1$s] is not null and coalesce(v_new, v_old) -> v_cn[%1$s] is null)', i);
    v_counters := v_counters || format($c$
  if v_cn[%3$s] is not null then
    v_key := case when TG_OP = 'DELETE' then v_oldkey else v_newkey end;
    if TG_OP = 'INSERT' then
      insert into ferry.counters as s (tbl, key, col, dc, value, ms, origin, seq) values (%1$s, v_key, v_cn[%3$s], %2$L, coalesce((v_new ->> v_cn[%3$s])::numeric, 0), v_ms, %2$L, v_id)
      on conflict (tbl, key, col, dc) do update set value = excluded.value, ms = excluded.ms, origin = excluded.origin, seq = excluded.seq;
      v_shares := v_shares || jsonb_build_object(v_cn[%3$s], jsonb_build_object(%2$L, coalesce((v_new ->> v_cn[%3$s])::numeric, 0)::text));
    elsif TG_OP = 'UPDATE' and (v_new ->> v_cn[%3$s])::numeric is distinct from (v_old ->> v_cn[%3$s])::numeric then
      insert into ferry.counters (tbl, key, col, dc, value, ms, origin, seq)
      select %1$s, v_key, v_cn[%3$s], '', coalesce((v_old ->> v_cn[%3$s])::numeric, 0), v_ms, %2$L, v_id
       where not exists (select 1 from ferry.counters where tbl = %1$s and key = v_key and col = v_cn[%3$s]);
      insert into ferry.counters as s (tbl, key, col, dc, value, ms, origin, seq)
      values (%1$s, v_key, v_cn[%3$s], %2$L, coalesce((v_new ->> v_cn[%3$s])::numeric, 0) - coalesce((v_old ->> v_cn[%3$s])::numeric, 0), v_ms, %2$L, v_id)
      on conflict (tbl, key, col, dc) do update set value = s.value + excluded.value, ms = excluded.ms, origin = excluded.origin, seq = excluded.seq;
      v_shares := v_shares || jsonb_build_object(v_cn[%3$s], (select jsonb_object_agg(dc, value::text) from ferry.counters
                                                               where tbl = %1$s and key = v_key and col = v_cn[%3$s] and dc in (%2$L, '')));
    elsif TG_OP = 'DELETE' then
      -- a delete resets the counter: every share here is older than it
      delete from ferry.counters where tbl = %1$s and key = v_key and col = v_cn[%3$s];
      insert into ferry.counter_resets as r (tbl, key, ms, origin, seq) values (%1$s, v_key, v_ms, %2$L, v_id)
      on conflict (tbl, key) do update set ms = excluded.ms, origin = excluded.origin, seq = excluded.seq;
    end if;
  end if;$c$, p_tbl::oid, st.origin, i);
  end loop;
  if v_counters <> '' then
    v_counters_json := 'v_shares';
  end if;
  -- the tombstone of v_oldkey, stamped as change v_id (a delete, the old key of a key change)
  v_tomb := format($t$insert into ferry.row_versions as v (tbl, key, ms, origin, seq, deleted, xid, pos)
    values (%s, v_oldkey, v_ms, %L, v_id, true, pg_current_xact_id(), null)
    on conflict (tbl, key) do update set ms = excluded.ms, origin = excluded.origin, seq = excluded.seq, deleted = true, xid = excluded.xid, pos = null;$t$, p_tbl::oid, st.origin);
  -- The common cases, one statement each (measured: what a capture function costs a writer is mostly
  -- the statements and expressions it runs, each set up anew in every transaction; PL/pgSQL logic
  -- costs more than the change row's INSERT). A table with counter columns, or json / array columns
  -- that may need exact text, takes the general path below for every change; so do a TRUNCATE, a
  -- key change and a key column renamed since this function was made (a key name the image does not
  -- hold fails the fast path's condition). The key names are constants here: a single-column key
  -- compares two images' values, a key of several columns its two key texts.
  if v_counters = '' and v_jtext = '' then
    v_clock := format('case when pg_sequence_last_value(''ferry.clock'') >= %1$s - 10 then pg_sequence_last_value(''ferry.clock'') else ferry.advance_clock(%1$s) end', v_wall);
    -- the key as the wire writes it, its names constants here; and "all key columns are in the image"
    select $q$'{' || $q$ || string_agg(format('%L || ($img -> %L)::text', to_json(k)::text || ': ', k), $q$ || ', ' || $q$ order by o) || $q$ || '}'$q$,
           string_agg(format('($img -> %L) is not null', k), ' and ' order by o)
      into v_ckey, v_keyset
      from unnest(t.key_cols) with ordinality u(k, o);
    -- an update that keeps its key: one key column compares its two values, several the two key texts
    if cardinality(t.key_cols) = 1 then
      v_keysame := format('(v_new -> %1$L)::text = (row_to_json(OLD) -> %1$L)::text', t.key_cols[1]);
    else
      v_keysame := format('%s = %s', replace(v_ckey, '$img', 'v_new'), replace(v_ckey, '$img', 'v_old'));
    end if;
    v_fast := format($f$
  if TG_OP = 'UPDATE' then
    v_new := row_to_json(NEW);%10$s
    if %4$s then
      insert into %1$s (tbl, op, row, hlc) values (%2$s, 'U', v_new, %3$s);
      return null;
    end if;
  elsif TG_OP = 'INSERT' then
    v_new := row_to_json(NEW);
    if %6$s then
      -- (the look-up of the key's version entry, as below, before the clock is read: a CASE reads
      -- its condition first)
      insert into %1$s (tbl, op, row, hlc)
      values (%2$s, 'I', v_new, case when exists (select from ferry.row_versions where tbl = %2$s and key = %5$s for share) is not null then %3$s end);
      return null;
    end if;
  elsif TG_OP = 'DELETE' then
    v_old := row_to_json(OLD);
    if %8$s then
      -- (no RETURNING: an application role may insert change rows, not read them)
      v_oldkey := %7$s;
      v_ms := %3$s;
      v_id := nextval('ferry.change_id_seq');
      insert into %1$s (id, tbl, op, row, hlc) values (v_id, %2$s, 'D', v_oldkey::json, v_ms);
      %9$s
      return null;
    end if;
  end if;
  -- the general path$f$, v_target, p_tbl::oid, v_clock, v_keysame, replace(v_ckey, '$img', 'v_new'),
      replace(v_keyset, '$img', 'v_new'), replace(v_ckey, '$img', 'v_old'), replace(v_keyset, '$img', 'v_old'), v_tomb,
      case when cardinality(t.key_cols) > 1 then E'\n    v_old := row_to_json(OLD);' else '' end);
  end if;
  return format($body$
declare
  v_ms bigint;
  v_id bigint;
  v_key text;
  v_shares jsonb;
  v_new json;
  v_old json;
  v_newkey text;
  v_oldkey text;
  v_jt jsonb;
  v_kn text[];
  v_cn text[];
begin
  -- writes applied by Ferry carry ferry.origin and are not captured again (loop prevention);
  -- only Ferry's role (a member of schema ferry's owner) may skip: other sessions are captured
  if current_setting('ferry.origin', true) <> '' then
    if pg_has_role(session_user, %13$s::oid, 'MEMBER') then
      return null;
    end if;
  end if;%14$s
  -- (set here, not where declared: a declared value is an expression run in every call)
  v_shares := '{}';
  -- the names of the key and counter columns when this function was made
  v_kn := %2$L;
  v_cn := %5$L;
  if TG_OP <> 'TRUNCATE' then
    -- the row is read through its images: no column name here can break a write
    if TG_OP <> 'DELETE' then
      v_new := row_to_json(NEW);
      v_newkey := %4$s;
    end if;
    if TG_OP <> 'INSERT' then
      v_old := row_to_json(OLD);
      v_oldkey := %6$s;
    end if;
    -- a key or counter column renamed since this function was made (the ticker makes it anew soon):
    -- the columns are found by their attribute numbers
    if (TG_OP <> 'DELETE' and v_newkey is null) or (TG_OP <> 'INSERT' and v_oldkey is null)%9$s then
      select n.keys, n.counters into v_kn, v_cn from ferry.capture_names(TG_RELID) n;
      if TG_OP <> 'DELETE' then
        v_newkey := %4$s;
      end if;
      if TG_OP <> 'INSERT' then
        v_oldkey := %6$s;
      end if;
    end if;
    -- a key written here anew (an insert, the new key of a key change) first waits for an applier
    -- recording a version of that key: then either the applier sees this row before it commits, or
    -- this change reads the clock after the applier moved it past the applied version (DESIGN.md §6)
    if TG_OP = 'INSERT' or (TG_OP = 'UPDATE' and v_newkey is distinct from v_oldkey) then
      -- (looked up without a lock first: most new keys have no entry, and the lock costs)
      if exists (select 1 from ferry.row_versions where tbl = %3$s and key = v_newkey) then
        perform 1 from ferry.row_versions where tbl = %3$s and key = v_newkey for share;
      end if;
    end if;
  end if;
  -- the version of this change: the clock's floor (moved on by the ticker and the appliers; by
  -- this writer too when it finds it more than 10 ms behind the wall clock)
  v_ms := pg_sequence_last_value('ferry.clock');
  if v_ms < %8$s - 10 then
    v_ms := ferry.advance_clock(%8$s);
  end if;
  if TG_OP = 'TRUNCATE' then
    if TG_RELID = %3$s then
      insert into %1$s (tbl, op, hlc) values (%3$s, 'T', v_ms);
    else
      -- one partition of this table (also fired for each when the whole table is truncated)
      insert into %1$s (tbl, op, row, hlc) values (%3$s, 'T', jsonb_build_object('partition', format('%%I.%%I', TG_TABLE_SCHEMA, TG_TABLE_NAME)), v_ms);
    end if;
    return null;
  end if;
  v_id := nextval('ferry.change_id_seq');%7$s%10$s
  if TG_OP = 'UPDATE' then
    if v_newkey is distinct from v_oldkey then
      insert into %1$s (id, tbl, op, row, old, json_text, hlc, counters) values (v_id, %3$s, 'U', v_new, v_oldkey::jsonb, v_jt, v_ms, %11$s);
      -- the old key is gone: a tombstone, so a late change to it cannot bring it back
      %12$s
    else
      insert into %1$s (id, tbl, op, row, json_text, hlc, counters) values (v_id, %3$s, 'U', v_new, v_jt, v_ms, %11$s);
    end if;
  elsif TG_OP = 'INSERT' then
    insert into %1$s (id, tbl, op, row, json_text, hlc, counters) values (v_id, %3$s, 'I', v_new, v_jt, v_ms, %11$s);
  else
    -- the image of a delete is its key
    insert into %1$s (id, tbl, op, row, hlc) values (v_id, %3$s, 'D', v_oldkey::json, v_ms);
    -- a tombstone (key + version): a late update elsewhere cannot bring the row back
    %12$s
  end if;
  return null;
end
$body$, v_target, t.key_cols, p_tbl::oid, replace(v_keyexpr, '$img', 'v_new'), t.counters, replace(v_keyexpr, '$img', 'v_old'),
   v_jtext, v_wall, v_stale, v_counters, v_counters_json, v_tomb,
   (select n.nspowner from pg_namespace n where n.nspname = 'ferry'), v_fast);
end $_$;

CREATE FUNCTION ferry.drop_capture_triggers(p_tbl regclass) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  r record;
begin
  for r in select tgname from pg_trigger where tgrelid = p_tbl and tgname in ('ferry_capture', 'ferry_capture_truncate') loop
    execute format('drop trigger %I on %s', r.tgname, p_tbl);
  end loop;
  -- the partitions' own TRUNCATE triggers (their row triggers go with the table's)
  for r in select t.tgname, t.tgrelid from pg_partition_tree(p_tbl) p join pg_trigger t on t.tgrelid = p.relid
            where p.relid <> p_tbl::oid and t.tgname = 'ferry_capture_truncate' and t.tgparentid = 0 loop
    execute format('drop trigger %I on %s', r.tgname, r.tgrelid::regclass);
  end loop;
end $$;

CREATE FUNCTION ferry.install_capture(p_tbl regclass) RETURNS void
    LANGUAGE plpgsql
    AS $$
begin
  execute format('create or replace function %s() returns trigger language plpgsql %s as %L',
                 ferry.capture_function_name(p_tbl), ferry.capture_settings(p_tbl), ferry.capture_source(p_tbl));
  update ferry.tracked set shape = ferry.table_shape(p_tbl) where tbl = p_tbl;
end $$;

CREATE FUNCTION ferry.lock_class() RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$select 1179800153$$;

CREATE FUNCTION ferry.max_vector(a jsonb, b jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
  select coalesce(jsonb_object_agg(k, greatest(coalesce((a ->> k)::bigint, 0), coalesce((b ->> k)::bigint, 0))), '{}')
    from (select jsonb_object_keys(coalesce(a, '{}')) as k union select jsonb_object_keys(coalesce(b, '{}'))) ks
$$;

CREATE FUNCTION ferry.note_column_names(p_tbl regclass) RETURNS void
    LANGUAGE sql
    AS $$
  insert into ferry.column_names (tbl, attnum, name)
  select a.attrelid, a.attnum, a.attname from pg_attribute a
   where a.attrelid = p_tbl and a.attnum > 0 and not a.attisdropped
  on conflict do nothing
$$;

CREATE FUNCTION ferry.prune(p_lock_timeout text DEFAULT '200ms'::text, p_stable pg_snapshot DEFAULT NULL::pg_snapshot) RETURNS integer[]
    LANGUAGE plpgsql
    AS $_$
declare
  v_cur int;
  v_origin text;
  v_done pg_snapshot;
  v_pending boolean;
  v_any boolean;
  v_out int[] := '{}';
  s int;
  r record;
begin
  select slot, origin into v_cur, v_origin from ferry.state;
  select snap into v_done from ferry.ticks where published_at is not null order by tick desc limit 1;
  perform set_config('lock_timeout', p_lock_timeout, true);
  for s in select g from generate_series(0, 2) g where g <> v_cur loop
    -- an empty table is left alone: truncating it anew every pass (once a second) took its lock,
    -- gave it a new file and made every session that had touched the change tables rebuild its
    -- view of them and replan. (Rows of a writer still inserting are not seen here, so such a
    -- table is skipped too, and emptied on a later pass once they are committed and published.)
    execute format('select exists (select 1 from ferry.changes_%s)', s) into v_any;
    continue when not v_any;
    begin
      execute format('lock table ferry.changes_%s in access exclusive mode', s);
      execute format('select exists (select 1 from ferry.changes_%s where xid >= pg_snapshot_xmin($1) and not pg_visible_in_snapshot(xid, $1))', s)
        into v_pending using v_done;
      if not v_pending then
        if p_stable is not null then
          -- per table, with its key written out as the wire writes it (no per-row lookups)
          for r in select t.tbl, '''{'' || ' || string_agg(format('%L || (c.row -> %L)::text', to_json(k)::text || ': ', k), ' || '', '' || ' order by o) || ' || ''}''' as key
                     from ferry.tracked t cross join lateral unnest(t.key_cols) with ordinality u(k, o) group by t.tbl loop
            execute format($f$
              insert into ferry.row_versions as v (tbl, key, ms, origin, seq, deleted, xid, pos)
              select distinct on (k) %2$s, k, hlc, $2, id, false, xid, null
                from (select %3$s as k, c.hlc, c.id, c.xid from ferry.changes_%1$s c
                       where c.tbl = %2$s and c.op in ('I', 'U') and c.hlc is not null and not pg_visible_in_snapshot(c.xid, $1)) x
               order by k, id desc
              on conflict (tbl, key) do update set ms = excluded.ms, origin = excluded.origin, seq = excluded.seq, deleted = false, xid = excluded.xid, pos = null
               where (v.ms, v.origin, v.seq) < (excluded.ms, excluded.origin, excluded.seq)$f$, s, r.tbl::oid, r.key)
            using p_stable, v_origin;
          end loop;
        end if;
        execute format('truncate ferry.changes_%s', s);
        v_out := v_out || s;
      end if;
    exception when lock_not_available then
      null; -- a writer still holds it: try again on the next pass
    end;
  end loop;
  return v_out;
end $_$;

CREATE FUNCTION ferry.refresh_tracked(p_tbl regclass DEFAULT NULL::regclass) RETURNS SETOF text
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION ferry.rotate() RETURNS boolean
    LANGUAGE plpgsql
    AS $$
declare
  v_next int;
  v_empty boolean;
  r record;
begin
  perform 1 from ferry.state for update;
  select (slot + 1) % 3 into v_next from ferry.state;
  execute format('select not exists (select 1 from ferry.changes_%s)', v_next) into v_empty;
  if not v_empty then
    return false;
  end if;
  update ferry.state set slot = v_next, rotated_at = clock_timestamp(),
         rotated_at_id = (select case when is_called then last_value else 0 end from ferry.change_id_seq);
  for r in select tbl from ferry.tracked where active loop
    perform ferry.install_capture(r.tbl);
  end loop;
  return true;
end $$;

CREATE FUNCTION ferry.table_shape(p_tbl regclass) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  select md5(coalesce(string_agg(a.attnum || ':' || a.attname || ':' || format_type(a.atttypid, a.atttypmod), ',' order by a.attnum), ''))
    from pg_attribute a
   where a.attrelid = p_tbl and a.attnum > 0 and not a.attisdropped
$$;

CREATE FUNCTION ferry.tick(p_force boolean DEFAULT false, p_min_changes bigint DEFAULT 1) RETURNS TABLE(tick bigint, last_id bigint, pending bigint)
    LANGUAGE plpgsql
    AS $$
declare
  v_last bigint;
  v_prev ferry.ticks;
begin
  select case when s.is_called then s.last_value else 0 end into v_last from ferry.change_id_seq s;
  select * into v_prev from ferry.ticks t order by t.tick desc limit 1;
  -- an idle DC still ticks now and then when what it has applied moved on: its peers learn from the
  -- vector which of their changes it has (see ferry.row_versions)
  if not p_force and v_last - v_prev.last_id < p_min_changes
     and (clock_timestamp() - v_prev.created_at < interval '1 second'
          or (select coalesce(jsonb_object_agg(a.origin, a.pos), '{}') from ferry.applied a) = coalesce(v_prev.seen, '{}'))
     and (p_min_changes > 1 or (
       (select c.id from ferry.changes c
         where c.xid >= pg_snapshot_xmax(v_prev.snap) and c.id <= v_prev.last_id
         order by c.xid limit 1) is null
       and not exists (select 1 from pg_snapshot_xip(v_prev.snap) x
                        where exists (select 1 from ferry.changes c where c.xid = x and c.id <= v_prev.last_id)))) then
    return query select null::bigint, v_last, v_last - v_prev.last_id;
    return;
  end if;
  -- the applied vector is read in the same statement as the snapshot: every change of ours that
  -- committed after this tick (the batches after it) committed after what the vector covers was
  -- applied here (the forwarder sends it with the next batch, see forward/forwarder.ts)
  insert into ferry.ticks (tick, snap, last_id, seen)
  values (v_prev.tick + 1, pg_current_snapshot(), v_last,
          (select coalesce(jsonb_object_agg(a.origin, a.pos), '{}') from ferry.applied a));
  return query select v_prev.tick + 1, v_last, v_last - v_prev.last_id;
end $$;

CREATE FUNCTION ferry.token() RETURNS text
    LANGUAGE sql
    AS $$
  select (select origin from ferry.state) || ':' || pg_current_xact_id()::text
$$;

CREATE FUNCTION ferry.track(p_tbl regclass, p_key text[] DEFAULT NULL::text[], p_counters text[] DEFAULT NULL::text[]) RETURNS text
    LANGUAGE plpgsql
    AS $$
declare
  v_schema text;
  v_name text;
  v_key text[];
  v_source text;
  v_missing text;
  v_fn text;
  v_kind "char";
  v_persistence "char";
  v_partition boolean;
  v_pk text;
  r record;
begin
  if p_tbl::oid in (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'ferry') then
    raise exception 'ferry: cannot track Ferry''s own table %', p_tbl
      using hint = 'Ferry keeps its own tables itself in every DC; track your application''s tables.';
  end if;
  select n.nspname, c.relname, c.relkind, c.relpersistence, c.relispartition
    into v_schema, v_name, v_kind, v_persistence, v_partition
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where c.oid = p_tbl;
  -- only a table holds rows of its own that every DC can keep
  if v_kind not in ('r', 'p') then
    raise exception 'ferry: % is a %, not a table: only tables can be tracked', p_tbl,
      case v_kind when 'v' then 'view' when 'm' then 'materialized view' when 'f' then 'foreign table'
                  when 'S' then 'sequence' when 'c' then 'composite type' when 'i' then 'index' else 'relation of kind ' || v_kind::text end
      using hint = 'Track the table(s) it reads from or stands for; each DC keeps its own views.';
  end if;
  if v_persistence = 't' then
    raise exception 'ferry: % is a temporary table: it lives only in one session of this DC, so there is nothing to keep in sync', p_tbl
      using hint = 'Track a permanent table.';
  end if;
  if v_persistence = 'u' then
    raise exception 'ferry: % is unlogged: after a crash PostgreSQL empties it here while the other DCs keep its rows, and nothing would say so', p_tbl
      using hint = format('Make it a logged table first: ALTER TABLE %s SET LOGGED; then track it.', p_tbl);
  end if;
  if v_partition then
    raise exception 'ferry: % is a partition of %: Ferry tracks a partitioned table as a whole', p_tbl,
      (select string_agg(i.inhparent::regclass::text, ', ') from pg_inherits i where i.inhrelid = p_tbl)
      using hint = 'Track the partitioned table: its rows, updates that move them between partitions and TRUNCATE of one partition all travel.';
  end if;
  if p_key is not null and cardinality(p_key) > 0 then
    select string_agg(quote_ident(k), ', ') into v_missing
      from unnest(p_key) k
     where not exists (select 1 from pg_attribute a where a.attrelid = p_tbl and a.attname = k and a.attnum > 0 and not a.attisdropped);
    if v_missing is not null then
      raise exception 'ferry: table % has no column(s) % given as its key', p_tbl, v_missing;
    end if;
    v_key := p_key;
    v_source := 'explicit';
  else
    select array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum))
      into v_key
      from pg_index i
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
     where i.indrelid = p_tbl and i.indisprimary;
    v_source := 'primary key';
    if v_key is null then
      raise exception 'ferry: table % has no primary key, so its rows cannot be identified at the other DCs', p_tbl
        using hint = 'Add a primary key, or name the columns that identify a row: ferry track --key col1,col2 TABLE (they must be unique and not null).';
    end if;
  end if;
  -- a key checked at commit lets one statement shift or swap keys (UPDATE t SET id = id + 1):
  -- the other DCs replay a transaction's changes one key at a time, and such a shift would meet
  -- keys still taken there and lose rows
  select c.conname into v_pk from pg_constraint c where c.conrelid = p_tbl and c.contype in ('p', 'u') and c.condeferrable
     and (select array_agg(a.attname::text order by a.attname) from pg_attribute a where a.attrelid = p_tbl and a.attnum = any(c.conkey))
         = (select array_agg(k order by k) from unnest(v_key) k)
   limit 1;
  if v_pk is not null then
    raise exception 'ferry: the key of % is DEFERRABLE (constraint %): one statement could then shift or swap keys, which the other DCs cannot replay one row at a time without losing rows', p_tbl, quote_ident(v_pk)
      using hint = format('Make it NOT DEFERRABLE: ALTER TABLE %s DROP CONSTRAINT %I, ADD PRIMARY KEY (%s); then track it.', p_tbl, v_pk,
                          (select string_agg(quote_ident(k), ', ') from unnest(v_key) k));
  end if;
  if v_source = 'explicit' then
    select string_agg(quote_ident(k), ', ') into v_missing
      from unnest(v_key) k join pg_attribute a on a.attrelid = p_tbl and a.attname = k
     where not a.attnotnull;
    if v_missing is not null then
      raise exception 'ferry: key column(s) % of % can be NULL, and a NULL names no row', v_missing, p_tbl
        using hint = format('ALTER TABLE %s ALTER COLUMN ... SET NOT NULL for each, or name other columns with --key.', p_tbl);
    end if;
    if not exists (select 1 from pg_index i
                    where i.indrelid = p_tbl and i.indisunique and i.indimmediate and i.indpred is null and i.indexprs is null
                      and (select bool_and(a.attname::text = any(v_key)) from pg_attribute a where a.attrelid = p_tbl and a.attnum = any(i.indkey))) then
      raise exception 'ferry: no unique index of % holds only the columns % given as its key, so two rows could share a key', p_tbl,
        (select string_agg(quote_ident(k), ', ') from unnest(v_key) k)
        using hint = format('CREATE UNIQUE INDEX ON %s (%s) (not deferrable, no WHERE), or name other columns with --key.', p_tbl,
                            (select string_agg(quote_ident(k), ', ') from unnest(v_key) k));
    end if;
  end if;

  select string_agg(quote_ident(k), ', ') into v_missing
    from unnest(coalesce(p_counters, '{}')) k
   where not exists (select 1 from pg_attribute a where a.attrelid = p_tbl and a.attname = k and a.attnum > 0 and not a.attisdropped
                       and a.atttypid in ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype))
      or k = any(v_key);
  if v_missing is not null then
    raise exception 'ferry: % cannot be counter column(s) of %: a counter is a smallint, integer, bigint or numeric column that is not part of the key', v_missing, p_tbl;
  end if;

  -- the key and counter columns by attribute number too: a rename keeps it (ferry.capture_names)
  insert into ferry.tracked (tbl, schema_name, table_name, key_cols, key_source, active, counters, key_attnums, counter_attnums)
  values (p_tbl, v_schema, v_name, v_key, v_source, true, coalesce(p_counters, '{}'),
          (select array_agg(a.attnum order by k.o) from unnest(v_key) with ordinality k(n, o)
             join pg_attribute a on a.attrelid = p_tbl and a.attname = k.n),
          (select coalesce(array_agg(a.attnum order by k.o), '{}') from unnest(coalesce(p_counters, '{}')) with ordinality k(n, o)
             join pg_attribute a on a.attrelid = p_tbl and a.attname = k.n))
  on conflict (tbl) do update set key_cols = excluded.key_cols, key_source = excluded.key_source,
                                  schema_name = excluded.schema_name, table_name = excluded.table_name, active = true,
                                  counters = excluded.counters, key_attnums = excluded.key_attnums,
                                  counter_attnums = excluded.counter_attnums;
  perform ferry.note_column_names(p_tbl);

  perform ferry.install_capture(p_tbl);
  v_fn := ferry.capture_function_name(p_tbl);
  perform ferry.drop_capture_triggers(p_tbl);
  execute format('create trigger ferry_capture after insert or update or delete on %s for each row execute function %s()', p_tbl, v_fn);
  execute format('create trigger ferry_capture_truncate after truncate on %s for each statement execute function %s()', p_tbl, v_fn);
  -- row triggers reach every partition (PostgreSQL clones them); statement triggers do not, and
  -- TRUNCATE of one partition must travel too. A partition attached later needs `ferry track` again.
  for r in select relid from pg_partition_tree(p_tbl) where relid <> p_tbl::oid loop
    execute format('create trigger ferry_capture_truncate after truncate on %s for each statement execute function %s()', r.relid, v_fn);
  end loop;
  return format('%I.%I', v_schema, v_name);
end $$;

CREATE FUNCTION ferry.untrack(p_tbl regclass) RETURNS text
    LANGUAGE plpgsql
    AS $$
begin
  perform ferry.drop_capture_triggers(p_tbl);
  -- the row stays (inactive): changes already captured still need its name and key to be sent
  update ferry.tracked set active = false where tbl = p_tbl;
  return p_tbl::text;
end $$;

CREATE FUNCTION ferry.wait_for(p_token text, p_timeout_ms integer DEFAULT 10000) RETURNS boolean
    LANGUAGE plpgsql
    AS $_$
declare
  v_origin text;
  v_xid xid8;
  v_self text;
  v_end timestamptz := clock_timestamp() + make_interval(secs => greatest(p_timeout_ms, 0) / 1000.0);
  v_nap float8 := 0.001;
  a record;
begin
  if p_token is null or p_token !~ '^[a-z0-9][a-z0-9_-]*:[0-9]+$' then
    raise exception 'ferry: % is not a read-your-writes token', quote_nullable(p_token)
      using hint = 'Take one with select ferry.token() inside the write transaction at the origin; it reads dc:xid.';
  end if;
  v_origin := split_part(p_token, ':', 1);
  v_xid := split_part(p_token, ':', 2)::xid8;
  select origin into v_self from ferry.state;
  if v_origin = v_self then
    return true; -- this DC's own write: visible here once committed
  end if;
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'ferry: ferry.wait_for needs READ COMMITTED (under % it would never see the applier''s commits)', current_setting('transaction_isolation');
  end if;
  loop
    select snap, pos, status, error into a from ferry.applied where origin = v_origin;
    if found and a.snap is not null and pg_visible_in_snapshot(v_xid, a.snap) then
      return true;
    end if;
    if clock_timestamp() >= v_end then
      if not found then
        raise notice 'ferry.wait_for: % not applied within % ms: this DC (%) has applied nothing from % (is it among its peers, and does ferry run?)', p_token, p_timeout_ms, v_self, v_origin;
      else
        raise notice 'ferry.wait_for: % not applied within % ms: this DC (%) has applied % up to position % (stream %)', p_token, p_timeout_ms, v_self, v_origin, a.pos,
          a.status || coalesce(': ' || a.error, '');
      end if;
      return false;
    end if;
    perform pg_sleep(least(v_nap, greatest(extract(epoch from v_end - clock_timestamp()), 0)));
    v_nap := least(v_nap * 2, 0.01);
  end loop;
end $_$;

CREATE FUNCTION ferry.wall_ms() RETURNS bigint
    LANGUAGE sql
    AS $$
  select (extract(epoch from clock_timestamp()) * 1000)::bigint + (select clock_offset_ms from ferry.state)
$$;

CREATE FUNCTION ferry.xid8_of(x xid) RETURNS xid8
    LANGUAGE sql STABLE
    AS $$
  select ferry.xid8_of(x, pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
$$;

CREATE FUNCTION ferry.xid8_of(x xid, xmax bigint) RETURNS xid8
    LANGUAGE sql IMMUTABLE
    AS $$
  select ((((xmax >> 32) - case when x::text::bigint >= (xmax & 4294967295) then 1 else 0 end) << 32) | x::text::bigint)::text::xid8
$$;

CREATE TABLE ferry.applied (
    origin text NOT NULL,
    pos bigint DEFAULT 0 NOT NULL,
    tick bigint,
    transport_offset text,
    source_at timestamp with time zone,
    applied_at timestamp with time zone,
    seen_pos bigint DEFAULT 0 NOT NULL,
    seen_at timestamp with time zone,
    epoch bigint DEFAULT 0 NOT NULL,
    status text DEFAULT 'running'::text NOT NULL,
    error text,
    error_kind text,
    error_pos bigint,
    error_at timestamp with time zone,
    peer_seen jsonb DEFAULT '{}'::jsonb NOT NULL,
    clock_ahead_ms bigint DEFAULT 0 NOT NULL,
    snap pg_snapshot,
    snap_tick bigint,
    lineage text,
    lineage_since bigint DEFAULT 0 NOT NULL,
    lineage_retired text[] DEFAULT '{}'::text[] NOT NULL,
    lineage_offered jsonb,
    CONSTRAINT applied_status_check CHECK ((status = ANY (ARRAY['running'::text, 'stopped'::text])))
);

CREATE TABLE ferry.bootstrap (
    singleton boolean DEFAULT true NOT NULL,
    source text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    covered jsonb,
    CONSTRAINT bootstrap_singleton_check CHECK (singleton)
);

CREATE TABLE ferry.bootstrap_tables (
    tbl text NOT NULL,
    snap pg_snapshot NOT NULL,
    applied jsonb NOT NULL,
    rows bigint NOT NULL,
    copied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE ferry.change_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

CREATE TABLE ferry.changes (
    id bigint DEFAULT nextval('ferry.change_id_seq'::regclass) NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    tbl oid NOT NULL,
    op "char" NOT NULL,
    "row" json,
    old jsonb,
    json_text jsonb,
    hlc bigint,
    counters jsonb
)
WITH (autovacuum_enabled='false');

CREATE TABLE ferry.changes_0 (
)
INHERITS (ferry.changes)
WITH (fillfactor='100', autovacuum_enabled='false');

CREATE TABLE ferry.changes_1 (
)
INHERITS (ferry.changes)
WITH (fillfactor='100', autovacuum_enabled='false');

CREATE TABLE ferry.changes_2 (
)
INHERITS (ferry.changes)
WITH (fillfactor='100', autovacuum_enabled='false');

CREATE SEQUENCE ferry.clock
    START WITH 0
    INCREMENT BY 1
    MINVALUE 0
    NO MAXVALUE
    CACHE 1;

CREATE TABLE ferry.column_names (
    tbl oid NOT NULL,
    attnum smallint NOT NULL,
    name text NOT NULL,
    seen_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE ferry.conflicts (
    id bigint NOT NULL,
    tbl text NOT NULL,
    key jsonb NOT NULL,
    rule text NOT NULL,
    winner text NOT NULL,
    local_version text,
    local_origin text,
    remote_version text NOT NULL,
    remote_origin text NOT NULL,
    remote_pos bigint NOT NULL,
    resolved_by text NOT NULL,
    resolved_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT conflicts_winner_check CHECK ((winner = ANY (ARRAY['local'::text, 'remote'::text])))
);

ALTER TABLE ferry.conflicts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ferry.conflicts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE ferry.counter_resets (
    tbl oid NOT NULL,
    key text NOT NULL,
    ms bigint NOT NULL,
    origin text NOT NULL,
    seq bigint NOT NULL
);

CREATE TABLE ferry.counters (
    tbl oid NOT NULL,
    key text NOT NULL,
    col text NOT NULL,
    dc text NOT NULL,
    value numeric NOT NULL,
    ms bigint NOT NULL,
    origin text NOT NULL,
    seq bigint NOT NULL
);

CREATE TABLE ferry.functions (
    signature text NOT NULL,
    body_md5 text NOT NULL,
    build text NOT NULL,
    installed_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE ferry.inbox (
    origin text NOT NULL,
    max_pos bigint NOT NULL,
    body text NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE ferry.migrations (
    id integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE ferry.quarantine (
    id bigint NOT NULL,
    tbl text NOT NULL,
    key jsonb NOT NULL,
    "row" jsonb,
    version text NOT NULL,
    origin text NOT NULL,
    reason text NOT NULL,
    quarantined_by text NOT NULL,
    quarantined_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ferry.quarantine ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ferry.quarantine_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE ferry.row_versions (
    tbl oid NOT NULL,
    key text NOT NULL,
    ms bigint NOT NULL,
    origin text NOT NULL,
    seq bigint NOT NULL,
    deleted boolean DEFAULT false NOT NULL,
    xid xid8,
    pos bigint
);

CREATE TABLE ferry.skips (
    origin text NOT NULL,
    pos bigint NOT NULL,
    reason text,
    skipped_by text DEFAULT CURRENT_USER NOT NULL,
    requested_at timestamp with time zone DEFAULT now() NOT NULL,
    applied_at timestamp with time zone,
    change jsonb
);

CREATE TABLE ferry.state (
    singleton boolean DEFAULT true NOT NULL,
    slot integer DEFAULT 0 NOT NULL,
    rotated_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    rotated_at_id bigint DEFAULT 0 NOT NULL,
    forwarder_epoch bigint DEFAULT 0 NOT NULL,
    origin text,
    clock_offset_ms bigint DEFAULT 0 NOT NULL,
    system_identifier text,
    timeline bigint,
    lineage text NOT NULL,
    lineage_since bigint DEFAULT 0 NOT NULL,
    lineage_parent text,
    lineage_at timestamp with time zone,
    xid_base_tick bigint DEFAULT 0 NOT NULL,
    CONSTRAINT state_singleton_check CHECK (singleton)
);

CREATE TABLE ferry.ticks (
    tick bigint NOT NULL,
    snap pg_snapshot NOT NULL,
    last_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    first_pos bigint,
    cnt bigint,
    epoch bigint,
    published_at timestamp with time zone,
    seen jsonb
);

CREATE TABLE ferry.tracked (
    tbl regclass NOT NULL,
    schema_name text NOT NULL,
    table_name text NOT NULL,
    key_cols text[] NOT NULL,
    key_source text NOT NULL,
    active boolean DEFAULT true NOT NULL,
    tracked_at timestamp with time zone DEFAULT now() NOT NULL,
    counters text[] DEFAULT '{}'::text[] NOT NULL,
    key_attnums smallint[],
    counter_attnums smallint[] DEFAULT '{}'::smallint[] NOT NULL,
    shape text,
    CONSTRAINT tracked_key_source_check CHECK ((key_source = ANY (ARRAY['primary key'::text, 'explicit'::text])))
);

ALTER TABLE ONLY ferry.changes_0 ALTER COLUMN id SET DEFAULT nextval('ferry.change_id_seq'::regclass);

ALTER TABLE ONLY ferry.changes_0 ALTER COLUMN xid SET DEFAULT pg_current_xact_id();

ALTER TABLE ONLY ferry.changes_1 ALTER COLUMN id SET DEFAULT nextval('ferry.change_id_seq'::regclass);

ALTER TABLE ONLY ferry.changes_1 ALTER COLUMN xid SET DEFAULT pg_current_xact_id();

ALTER TABLE ONLY ferry.changes_2 ALTER COLUMN id SET DEFAULT nextval('ferry.change_id_seq'::regclass);

ALTER TABLE ONLY ferry.changes_2 ALTER COLUMN xid SET DEFAULT pg_current_xact_id();

ALTER TABLE ONLY ferry.applied
    ADD CONSTRAINT applied_pkey PRIMARY KEY (origin);

ALTER TABLE ONLY ferry.bootstrap
    ADD CONSTRAINT bootstrap_pkey PRIMARY KEY (singleton);

ALTER TABLE ONLY ferry.bootstrap_tables
    ADD CONSTRAINT bootstrap_tables_pkey PRIMARY KEY (tbl);

ALTER TABLE ONLY ferry.column_names
    ADD CONSTRAINT column_names_pkey PRIMARY KEY (tbl, attnum, name);

ALTER TABLE ONLY ferry.conflicts
    ADD CONSTRAINT conflicts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ferry.conflicts
    ADD CONSTRAINT conflicts_remote_origin_remote_pos_rule_key UNIQUE (remote_origin, remote_pos, rule);

ALTER TABLE ONLY ferry.counter_resets
    ADD CONSTRAINT counter_resets_pkey PRIMARY KEY (tbl, key);

ALTER TABLE ONLY ferry.counters
    ADD CONSTRAINT counters_pkey PRIMARY KEY (tbl, key, col, dc);

ALTER TABLE ONLY ferry.functions
    ADD CONSTRAINT functions_pkey PRIMARY KEY (signature);

ALTER TABLE ONLY ferry.migrations
    ADD CONSTRAINT migrations_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ferry.quarantine
    ADD CONSTRAINT quarantine_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ferry.row_versions
    ADD CONSTRAINT row_versions_pkey PRIMARY KEY (tbl, key);

ALTER TABLE ONLY ferry.skips
    ADD CONSTRAINT skips_pkey PRIMARY KEY (origin, pos);

ALTER TABLE ONLY ferry.state
    ADD CONSTRAINT state_pkey PRIMARY KEY (singleton);

ALTER TABLE ONLY ferry.ticks
    ADD CONSTRAINT ticks_pkey PRIMARY KEY (tick);

ALTER TABLE ONLY ferry.tracked
    ADD CONSTRAINT tracked_pkey PRIMARY KEY (tbl);

CREATE INDEX changes_0_xid ON ferry.changes_0 USING btree (xid);

CREATE INDEX changes_1_xid ON ferry.changes_1 USING btree (xid);

CREATE INDEX changes_2_xid ON ferry.changes_2 USING btree (xid);

CREATE INDEX conflicts_resolved_at ON ferry.conflicts USING btree (resolved_at);

CREATE INDEX inbox_origin_pos ON ferry.inbox USING btree (origin, max_pos);

CREATE INDEX row_versions_origin_pos ON ferry.row_versions USING btree (origin, pos);
