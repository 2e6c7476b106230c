-- The capture trigger of each tracked table (DESIGN.md §2). Its body is generated per table so the
-- key columns and the target change table are constants: the trigger runs inside every user write.
--
-- Besides the one-jsonb row image it writes json_text: {column: exact text} for every json column
-- that is not SQL NULL and every jsonb column that holds the JSON null (the image can say neither:
-- it holds json converted to jsonb, and the JSON null as null). NULL for everything else, so tables
-- without such columns pay nothing. Columns are found when the function is generated (ferry track,
-- rotation).
create or replace function ferry.capture_source(p_tbl regclass) returns text
language plpgsql stable as $$
declare
  t ferry.tracked;
  v_slot int;
  v_target text;
  v_newkey text;
  v_oldkey text;
  v_oldobj text;
  v_jtext text;
begin
  select * into t from ferry.tracked where tbl = p_tbl;
  if not found then
    raise exception 'ferry: table % is not tracked', p_tbl;
  end if;
  select slot into v_slot from ferry.state;
  v_target := format('ferry.changes_%s', v_slot);
  select string_agg(format('NEW.%I', k), ', '), string_agg(format('OLD.%I', k), ', '),
         string_agg(format('%L, OLD.%I', k, k), ', ')
    into v_newkey, v_oldkey, v_oldobj
    from unnest(t.key_cols) k;
  -- one jsonb_build_object per column (no 100-argument limit), over json/jsonb and their domains
  select string_agg(format('jsonb_build_object(%L, %s)', a.attname,
                           case when b.base = 'json'::regtype
                                then format('NEW.%I::text', a.attname)
                                else format('case when jsonb_typeof(NEW.%I::jsonb) = %L then %L end', a.attname, 'null', 'null') end),
                    ' || ' order by a.attnum)
    into v_jtext
    from pg_attribute a
    cross join lateral (
      with recursive d(oid, typtype, typbasetype) as (
        select ty.oid, ty.typtype, ty.typbasetype from pg_type ty where ty.oid = a.atttypid
        union all
        select ty.oid, ty.typtype, ty.typbasetype from pg_type ty join d on ty.oid = d.typbasetype where d.typtype = 'd')
      select d.oid::regtype as base from d where d.typtype <> 'd') b
   where a.attrelid = p_tbl and a.attnum > 0 and not a.attisdropped
     and b.base in ('json'::regtype, 'jsonb'::regtype);
  v_jtext := case when v_jtext is null then 'null'
                  else format('nullif(jsonb_strip_nulls(%s), %L)', v_jtext, '{}') end;
  return format($body$
begin
  -- writes applied by Ferry carry ferry.origin and are not captured again (loop prevention)
  if current_setting('ferry.origin', true) <> '' then
    return null;
  end if;
  -- an idle forwarder holds this lock exclusively; only then does a writer pay for NOTIFY
  if not pg_try_advisory_xact_lock_shared(%2$s, 1) then
    perform pg_notify('ferry_wake', '');
  end if;
  if TG_OP = 'UPDATE' then
    if (%4$s) is distinct from (%5$s) then
      insert into %1$s (tbl, op, row, old, json_text) values (%3$s, 'U', to_jsonb(NEW), jsonb_build_object(%6$s), %7$s);
    else
      insert into %1$s (tbl, op, row, json_text) values (%3$s, 'U', to_jsonb(NEW), %7$s);
    end if;
  elsif TG_OP = 'INSERT' then
    insert into %1$s (tbl, op, row, json_text) values (%3$s, 'I', to_jsonb(NEW), %7$s);
  elsif TG_OP = 'DELETE' then
    insert into %1$s (tbl, op, row) values (%3$s, 'D', jsonb_build_object(%6$s));
  else
    insert into %1$s (tbl, op) values (%3$s, 'T');
  end if;
  return null;
end
$body$, v_target, ferry.lock_class(), p_tbl::oid, v_newkey, v_oldkey, v_oldobj, v_jtext);
end $$;

create or replace function ferry.capture_function_name(p_tbl regclass) returns text
language sql immutable as $$ select format('ferry.%I', 'capture_' || p_tbl::oid) $$;

create or replace function ferry.install_capture(p_tbl regclass) returns void
language plpgsql as $$
begin
  execute format('create or replace function %s() returns trigger language plpgsql as %L',
                 ferry.capture_function_name(p_tbl), ferry.capture_source(p_tbl));
end $$;

create or replace function ferry.drop_capture_triggers(p_tbl regclass) returns void
language plpgsql as $$
declare
  r record;
begin
  for r in select tgname from pg_trigger where tgrelid = p_tbl and tgname in ('ferry_capture', 'ferry_capture_truncate') loop
    execute format('drop trigger %I on %s', r.tgname, p_tbl);
  end loop;
end $$;
