-- The capture trigger of each tracked table (DESIGN.md §2). Its body is generated per table so the
-- key columns, the target change table and this DC's id are constants: the trigger runs inside
-- every user write, so it does as little as it can. Measured (backend CPU per pgbench TPC-B
-- transaction, bench notes in issue 9): PL/pgSQL sets up every expression and statement a function
-- runs anew in each transaction, so the cost is the count of them more than what they compute; the
-- common cases therefore take a short path of a few expressions and one INSERT (below).
--
-- The row image is row_to_json(NEW): values in PostgreSQL's own output, json columns exactly as
-- written. The function reads the row only through its images (the key too, by column name as data),
-- so application DDL (a column renamed, added, dropped, retyped) never breaks a write: a renamed key
-- or counter column is found by its attribute number until the ticker makes the function anew
-- (ferry.refresh_tracked, functions/08_schema_changes.sql). Beside it, json_text holds the exact text of what the image cannot say: a json or jsonb
-- column holding the JSON null (the image says null, as for SQL NULL), and an array whose bounds
-- are not 1 ('[0:2]={1,2,3}': the image says [1,2,3]). NULL for everything else, so most tables pay
-- nothing for it. A table with float, interval or money columns gets its capture function with
-- the output settings pinned, so what arrives does not depend on the writer's session.
--
-- Each change is stamped with this DC's clock (hlc, DESIGN.md §6). A DELETE (and the old key of a
-- key change) also leaves a tombstone in ferry.row_versions: the one write capture makes besides
-- the change row, and only for deletes; an INSERT looks its key up there (one index probe). Counter columns keep this DC's share in ferry.counters.
create or replace function ferry.capture_source(p_tbl regclass) returns text
language plpgsql stable as $$
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
end $$;

-- The output settings a table's capture function pins: float, interval and money values (also in
-- arrays, domains and composites) are written the same whatever the writer's session says.
create or replace function ferry.capture_settings(p_tbl regclass) returns text
language sql stable as $$
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
$$;

create or replace function ferry.capture_function_name(p_tbl regclass) returns text
language sql immutable as $$ select format('ferry.%I', 'capture_' || p_tbl::oid) $$;

-- Makes the table's capture function for its columns as they are now, and notes them (shape), so the
-- ticker can tell when application DDL changed them (ferry.refresh_tracked).
create or replace function ferry.install_capture(p_tbl regclass) returns void
language plpgsql as $$
begin
  execute format('create or replace function %s() returns trigger language plpgsql %s as %L',
                 ferry.capture_function_name(p_tbl), ferry.capture_settings(p_tbl), ferry.capture_source(p_tbl));
  update ferry.tracked set shape = ferry.table_shape(p_tbl) where tbl = p_tbl;
end $$;

create or replace function ferry.drop_capture_triggers(p_tbl regclass) returns void
language plpgsql as $$
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
